# Debian's Postfix as the comparison MTA of the bench sections: a private
# instance (its own config_directory, queue_directory and data_directory
# under a scratch directory, chroot off, logging to a file), started and
# stopped by the section. Needs root (Postfix's master) and the postfix
# package. Sourced by scripts/bench.d/{smtp,delivery}.sh.

# bench_postfix_setup DIR SMTPD_PORT [main.cf line ...]: write DIR/etc
# (main.cf, master.cf) and create the queue. SMTPD_PORT "" means no
# SMTP listener. Extra lines are appended to main.cf.
bench_postfix_setup() {
  local dir=$1 port=$2
  shift 2
  # Postfix's daemons (user postfix) and deliveries must reach DIR.
  chmod go+rx "$BENCH_TMP"
  mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
  chown postfix "$dir/data"
  cat > "$dir/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
myhostname = bench.example
mydomain = bench.example
myorigin = bench.example
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtputf8_enable = no
CF
  printf '%s\n' "$@" >> "$dir/etc/main.cf"
  # Debian's master.cf with chroot off (no copies of /etc in the queue)
  # and the public smtp listener moved to 127.0.0.1:PORT (or removed).
  awk -v port="$port" '
    /^[^#[:space:]]/ && NF >= 8 {
      $5 = "n"
      if ($1 == "smtp" && $2 == "inet") {
        if (port == "") next
        $1 = "127.0.0.1:" port
      }
    }
    { print }
  ' /etc/postfix/master.cf > "$dir/etc/master.cf"
  postfix -c "$dir/etc" check >&2
}

# bench_postfix_start DIR / bench_postfix_stop DIR
bench_postfix_start() {
  postfix -c "$1/etc" start >&2 || {
    echo "bench: $name: Postfix did not start; its log:" >&2
    cat "$1/maillog" >&2
    exit 1
  }
}
bench_postfix_stop() { postfix -c "$1/etc" stop >&2 2>/dev/null || true; }

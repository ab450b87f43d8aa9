# Local delivery (issue #4): N messages injected until all are in the
# recipient's Maildir/new, qmail-rs beside Debian's Postfix in the same
# run, fsync on for both (neither can turn it off for queue files or
# Maildir deliveries).
#
# qmail-rs: qmail-inject -> qmail-queue -> qmail-send -> qmail-lspawn ->
# qmail-local -> ./Maildir/ (the recipient found through users/cdb,
# defaultdelivery ./Maildir/, no .qmail file), started by qmail-start with
# `cat` as the logger, in a temporary root made by bench_qmail_tree,
# single-user mode (everything as root). Postfix: a private instance (see
# scripts/bench.lib/postfix.sh): sendmail -> postdrop -> pickup ->
# cleanup -> qmgr -> virtual(8) -> Maildir/ (virtual_mailbox_maps =
# static:bench/Maildir/, uid nobody), Postfix's own Maildir delivery agent
# for a mailbox that is not a Unix account, as users/cdb is for qmail.
# Both with their default concurrency (concurrencylocal 10; Postfix's
# per-destination limit 20).
#
# Two measurements, each the median of BENCH_DELIVERY_RUNS runs:
# * end to end: BENCH_DELIVERY_PAR injectors in parallel, each running the
#   MTA's own injection program (qmail-inject / Postfix's sendmail) once
#   per message, with the MTA running; from the first injection until
#   the last message is in Maildir/new.
# * from the queue: the same N messages injected while the MTA is
#   stopped, then the MTA started (qmail-start / Postfix's master); from
#   the start until the last message is in Maildir/new. This leaves out
#   the injection programs (Postfix's sendmail + postdrop cost several
#   times qmail-inject + qmail-queue).
#
# Knobs: BENCH_DELIVERY_N (1000), BENCH_DELIVERY_RUNS (3),
# BENCH_DELIVERY_PAR (4), BENCH_DELIVERY_SIZE body bytes (3000).

bench_need_root "Postfix's master needs root"
bench_need postfix postfix
bench_need postsuper postfix
dl_sendmail=/usr/sbin/sendmail
dl_master=$(postconf -h daemon_directory)/master
[ -x "$dl_master" ] || { echo "bench: $name: $dl_master is missing (Debian package postfix)" >&2; exit 1; }
dpkg -S "$dl_sendmail" 2>/dev/null | grep -q '^postfix:' ||
  { echo "bench: $name: $dl_sendmail is not Postfix's sendmail" >&2; exit 1; }
# shellcheck source=../bench.lib/postfix.sh
source scripts/bench.lib/postfix.sh

dl_runs=${BENCH_DELIVERY_RUNS:-3}
dl_par=${BENCH_DELIVERY_PAR:-4}
dl_per=$(( ${BENCH_DELIVERY_N:-1000} / dl_par ))
dl_n=$(( dl_per * dl_par ))
dl_msg=$BENCH_TMP/delivery-message
{
  printf 'From: sender@bench.example\nTo: bench@bench.example\nSubject: bench\n\n'
  head -c "${BENCH_DELIVERY_SIZE:-3000}" /dev/zero | tr '\0' x | fold -w 76
  echo
} > "$dl_msg"

# qmail-rs.
dl_root=$BENCH_TMP/delivery-qmail
bench_qmail_tree "$dl_root"
dl_home=$dl_root/var/qmail
echo bench.example > "$dl_home/control/me"
echo bench.example > "$dl_home/control/locals"
dl_user=$dl_root/home/bench
mkdir -p "$dl_user"
chmod 755 "$dl_user"
"$BENCH_BIN/maildirmake" "$dl_user/Maildir"
printf '=bench:bench:%s:%s:%s:::\n.\n' "$(id -u)" "$(id -g)" "$dl_user" > "$dl_home/users/assign"
env QMAILRS_ROOT="$dl_root" "$BENCH_BIN/qmail-newu"
dl_qpid=
dl_qmail_start() {
  env PATH="$dl_home/bin:$PATH" QMAILRS_ROOT="$dl_root" QMAILRS_SINGLE_USER=1 \
    "$dl_home/bin/qmail-start" ./Maildir/ cat >> "$dl_root/log" 2>&1 &
  dl_qpid=$!
}
dl_qmail_stop() {
  if [ -n "$dl_qpid" ]; then
    kill -TERM "$dl_qpid" 2>/dev/null || true
    wait "$dl_qpid" 2>/dev/null || true
    dl_qpid=
  fi
}
bench_atexit dl_qmail_stop

# Postfix.
dl_pf=$BENCH_TMP/delivery-postfix
mkdir -p "$dl_pf/mail/bench"
chown -R nobody:nogroup "$dl_pf/mail"
bench_postfix_setup "$dl_pf" "" \
  'mydestination = localhost' \
  'virtual_mailbox_domains = bench.example' \
  "virtual_mailbox_base = $dl_pf/mail" \
  'virtual_mailbox_maps = static:bench/Maildir/' \
  'virtual_uid_maps = static:65534' \
  'virtual_gid_maps = static:65534'
bench_atexit "bench_postfix_stop '$dl_pf'"
dl_pf_start() { "$dl_master" -c "$dl_pf/etc" -w || { cat "$dl_pf/maillog" >&2; exit 1; }; }
dl_pf_stop() {
  local pid
  pid=$(cat "$dl_pf/spool/pid/master.pid")
  postfix -c "$dl_pf/etc" stop >&2
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

dl_new() {
  case $1 in
    qmail) echo "$dl_user/Maildir/new" ;;
    postfix) echo "$dl_pf/mail/bench/Maildir/new" ;;
  esac
}
dl_inject_one() {
  case $1 in
    qmail) env QMAILRS_ROOT="$dl_root" QMAILRS_SINGLE_USER=1 \
      "$BENCH_BIN/qmail-inject" -f sender@bench.example bench@bench.example < "$dl_msg" ;;
    postfix) "$dl_sendmail" -C "$dl_pf/etc" -f sender@bench.example bench@bench.example < "$dl_msg" ;;
  esac
}
# dl_inject WHICH: dl_n messages from dl_par parallel injectors.
dl_inject() {
  local pids=() j p
  for j in $(seq "$dl_par"); do
    ( for _ in $(seq "$dl_per"); do dl_inject_one "$1" || exit 1; done ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || { echo "bench: $name: $1 injection failed" >&2; exit 1; }
  done
}
# dl_wait WHICH: until dl_n messages are in Maildir/new (fail after 60 s
# without progress); then empty it.
dl_wait() {
  local dir got last=-1 still=0
  dir=$(dl_new "$1")
  while :; do
    got=$(find "$dir" -type f | wc -l)
    [ "$got" -ge "$dl_n" ] && break
    if [ "$got" = "$last" ]; then still=$(( still + 1 )); else still=0; last=$got; fi
    if [ "$still" -ge 1200 ]; then
      echo "bench: $name: $1 delivered $got of $dl_n messages" >&2
      exit 1
    fi
    sleep 0.05
  done
}
dl_empty() { find "$(dl_new "$1")" -type f -delete; }

# dl_end_to_end WHICH (MTA running): msg/s.
dl_end_to_end() {
  local t0 t1
  t0=$(bench_now)
  dl_inject "$1"
  dl_wait "$1"
  t1=$(bench_now)
  dl_empty "$1"
  bench_rate "$dl_n" "$t0" "$t1"
}
# dl_from_queue WHICH (MTA stopped, left running): msg/s.
dl_from_queue() {
  local t0 t1
  dl_inject "$1"
  t0=$(bench_now)
  if [ "$1" = qmail ]; then dl_qmail_start; else dl_pf_start; fi
  dl_wait "$1"
  t1=$(bench_now)
  dl_empty "$1"
  bench_rate "$dl_n" "$t0" "$t1"
}

echo "$dl_n messages of ${BENCH_DELIVERY_SIZE:-3000} bytes to one Maildir, $dl_par injectors, fsync on, median of $dl_runs runs"
dl_qmail_start
dl_pf_start
# Warm-up (page cache, Postfix's daemons).
dl_n_all=$dl_n dl_per_all=$dl_per
dl_per=5 dl_n=$(( 5 * dl_par ))
for mta in qmail postfix; do dl_end_to_end "$mta" > /dev/null; done
dl_n=$dl_n_all dl_per=$dl_per_all

e2e_q=() e2e_p=() fq_q=() fq_p=()
for _ in $(seq "$dl_runs"); do
  e2e_q+=("$(dl_end_to_end qmail)")
  e2e_p+=("$(dl_end_to_end postfix)")
  dl_qmail_stop
  fq_q+=("$(dl_from_queue qmail)")
  dl_pf_stop
  fq_p+=("$(dl_from_queue postfix)")
done
for m in e2e fq; do
  if [ $m = e2e ]; then
    label="end to end"; q=("${e2e_q[@]}"); p=("${e2e_p[@]}")
  else
    label="from the queue"; q=("${fq_q[@]}"); p=("${fq_p[@]}")
  fi
  qm=$(bench_median "${q[@]}")
  pm=$(bench_median "${p[@]}")
  bench_report "qmail-rs, $label (runs: ${q[*]})" "$qm" "msg/s"
  bench_report "Postfix, $label (runs: ${p[*]})" "$pm" "msg/s"
  bench_report "qmail-rs / Postfix, $label" "$(bench_ratio "$qm" "$pm")" "x (target 1.5)"
done

# Injection: messages/s through qmail-queue directly and through
# qmail-inject, sync calls per message (strace -c, if installed), and the
# disk's raw synchronous-write rate, all in the same run on the same
# file system. Sourced by scripts/bench.

inject_n=${BENCH_INJECT_N:-200}
inject_root=$BENCH_TMP/inject
bench_qmail_tree "$inject_root"
inject_q=$inject_root/var/qmail/queue
printf 'Fsender@oracle.example\0Trcpt@example.org\0\0' > "$BENCH_TMP/envelope"
printf 'From: a@oracle.example\nTo: rcpt@example.org\nSubject: bench\n\n%s\n' \
  "$(head -c 3000 /dev/zero | tr '\0' x)" > "$BENCH_TMP/message"

inject_env() {
  env QMAILRS_ROOT="$inject_root" QMAILRS_SINGLE_USER=1 "$@"
}

inject_empty_queue() {
  find "$inject_q"/{mess,intd,todo} -type f -delete
}

# Raw rate: 4 KiB synchronous writes (O_DSYNC), one sync each.
raw_n=$(( inject_n < 100 ? inject_n : 100 ))
t0=$(bench_now)
dd if=/dev/zero of="$inject_q/rawsync" bs=4k count="$raw_n" oflag=dsync status=none
t1=$(bench_now)
rm -f "$inject_q/rawsync"
bench_report "disk: synchronous 4k writes" "$(bench_rate "$raw_n" "$t0" "$t1")" "/s"

for mode in fsync syncfs; do
  t0=$(bench_now)
  for _ in $(seq "$inject_n"); do
    inject_env QMAILRS_QUEUE_SYNC=$mode "$BENCH_BIN/qmail-queue" \
      < "$BENCH_TMP/message" 1< "$BENCH_TMP/envelope"
  done
  t1=$(bench_now)
  bench_report "qmail-queue ($mode barrier)" "$(bench_rate "$inject_n" "$t0" "$t1")" "msg/s"
  inject_empty_queue
done

t0=$(bench_now)
for _ in $(seq "$inject_n"); do
  inject_env "$BENCH_BIN/qmail-inject" -f sender rcpt@example.org < "$BENCH_TMP/message"
done
t1=$(bench_now)
bench_report "qmail-inject -> qmail-queue (fsync)" "$(bench_rate "$inject_n" "$t0" "$t1")" "msg/s"
inject_empty_queue

# Sync calls per message. netqmail's qmail-queue makes 2 (fsync of the
# mess file and of the intd file) and no directory fsync, so it is not
# crash-safe on file systems with asynchronous metadata; ours make the
# mess, intd and todo entries durable with the counts shown.
if command -v strace >/dev/null; then
  for mode in fsync syncfs; do
    out=$BENCH_TMP/strace.$mode
    for _ in 1 2 3 4 5; do
      inject_env QMAILRS_QUEUE_SYNC=$mode strace -f -c -o "$out.$_" \
        -e trace=fsync,fdatasync,syncfs,sync,sync_file_range \
        "$BENCH_BIN/qmail-queue" < "$BENCH_TMP/message" 1< "$BENCH_TMP/envelope"
    done
    calls=$(cat "$out".* | awk '$NF ~ /^(fsync|fdatasync|syncfs|sync|sync_file_range)$/ { n += $4 } END { print n + 0 }')
    bench_report "sync calls per message ($mode)" "$(echo "scale=1; $calls / 5" | bc -l)" "(netqmail: 2, no dir sync)"
  done
  inject_empty_queue
else
  bench_report "sync calls per message" "n/a" "(strace not installed)"
fi

# End to end: sync calls per message from qmail-queue through qmail-send's
# todo processing to the Maildir delivery, everything under one strace -f,
# counted per program (each pid's last execve; threads and forks inherit
# their parent's). netqmail: qmail-queue 2 (mess, intd), qmail-send 2 per
# channel (info, local/remote), qmail-local 1 (the Maildir tmp file).
if command -v strace >/dev/null; then
  e2e_n=${BENCH_INJECT_E2E_N:-20}
  e2e_root=$BENCH_TMP/inject-e2e
  bench_qmail_tree "$e2e_root"
  e2e_home=$e2e_root/var/qmail
  echo oracle.example > "$e2e_home/control/locals"
  e2e_user=$e2e_root/home/rcpt
  mkdir -p "$e2e_user"
  chmod 755 "$e2e_user"
  "$BENCH_BIN/maildirmake" "$e2e_user/Maildir"
  printf '=rcpt:rcpt:%s:%s:%s:::\n.\n' "$(id -u)" "$(id -g)" "$e2e_user" > "$e2e_home/users/assign"
  env QMAILRS_ROOT="$e2e_root" "$BENCH_BIN/qmail-newu"
  printf 'Fsender@oracle.example\0Trcpt@oracle.example\0\0' > "$BENCH_TMP/e2e-envelope"
  # The traced driver: qmail-start, N qmail-queue runs, wait for N
  # deliveries and an empty queue, TERM.
  cat > "$BENCH_TMP/e2e-driver" <<'DRIVER'
set -eu
home=$1 n=$2 msg=$3 envelope=$4 new=$5
"$home/bin/qmail-start" ./Maildir/ > "$home/../e2e.log" 2>&1 &
send=$!
for _ in $(seq "$n"); do
  "$home/bin/qmail-queue" < "$msg" 1< "$envelope"
done
tries=0
until [ "$(find "$new" -type f | wc -l)" -ge "$n" ] && [ -z "$(find "$home/queue/todo" "$home/queue/info" -type f)" ]; do
  tries=$((tries + 1))
  [ "$tries" -lt 1200 ] || { echo "e2e: not delivered" >&2; kill -TERM "$send"; exit 1; }
  sleep 0.05
done
kill -TERM "$send"
wait "$send" || true
DRIVER
  for mode in fsync syncfs; do
    trace=$BENCH_TMP/e2e-trace.$mode
    find "$e2e_user/Maildir/new" -type f -delete
    env PATH="$e2e_home/bin:$PATH" QMAILRS_ROOT="$e2e_root" QMAILRS_SINGLE_USER=1 QMAILRS_QUEUE_SYNC=$mode \
      strace -f -qq -o "$trace" \
      -e trace=execve,clone,clone3,fork,vfork,fsync,fdatasync,syncfs,sync,sync_file_range \
      bash "$BENCH_TMP/e2e-driver" "$e2e_home" "$e2e_n" "$BENCH_TMP/message" \
      "$BENCH_TMP/e2e-envelope" "$e2e_user/Maildir/new"
    # Pass 1: each pid's last program (successful execve) and parent
    # (clone/fork return values). Pass 2: each sync call's start line
    # counts for its pid's program, or the nearest ancestor's.
    counts=$(awk -v n="$e2e_n" '
      function base(p) { sub(/.*\//, "", p); return p }
      { pid = $1; line = $0; sub(/^[0-9]+ +/, "", line) }
      NR == FNR {
        if (line ~ /^execve\(/) { split(line, a, "\""); pend[pid] = base(a[2]) }
        if ((line ~ /^execve\(/ || line ~ /^<\.\.\. execve resumed>/) && line ~ /= 0$/) prog[pid] = pend[pid]
        if ((line ~ /^(clone3?|fork|vfork)\(/ || line ~ /^<\.\.\. (clone3?|fork|vfork) resumed>/) && match(line, /= [0-9]+$/))
          parent[substr(line, RSTART + 2)] = pid
        next
      }
      line ~ /^(fsync|fdatasync|syncfs|sync|sync_file_range)\(/ {
        p = pid
        while (!(p in prog) && (p in parent)) p = parent[p]
        name = (p in prog) ? prog[p] : "?"
        c[name]++; total++
      }
      END {
        out = ""
        for (p in c) out = out sprintf("%s %.1f, ", p, c[p] / n)
        printf "%.1f|%s\n", total / n, substr(out, 1, length(out) - 2)
      }' "$trace" "$trace")
    bench_report "end to end sync calls per message ($mode)" "${counts%%|*}" "(${counts#*|}; netqmail: qmail-queue 2, qmail-send 2, qmail-local 1 = 5)"
  done
else
  bench_report "end to end sync calls per message" "n/a" "(strace not installed)"
fi

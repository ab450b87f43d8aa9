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

# SMTP ingest (issue #5): messages/s that Postfix's smtp-source gets
# accepted at 1, 10 and 50 concurrent sessions, one message per
# connection, by qmail-rs and by Debian's Postfix in the same run.
#
# qmail-rs: our tcpserver (-R, remote host lookups on, -x rules.cdb,
# -c 100, -b 100: the listen backlog Postfix's master uses; the default
# 20 drops SYNs at 50 sessions and the clients wait 1 s to retry) running
# qmail-smtpd, which hands each message to the resident qmail-queued
# (fsync barriers, the default), in a temporary root made by
# bench_qmail_tree, single-user mode (everything as the invoking user).
# "qmail-rs exec": a second tcpserver on the same tree with
# QMAILQUEUE=bin/qmail-queue, so every message starts qmail-queue, as
# without qmail-queued. Postfix: a private instance (see
# scripts/bench.lib/postfix.sh) with smtpd on another 127.0.0.1 port.
#
# Fairness: both accept into their durable queue and stop there, and the
# reply to DATA comes only after the queue file is fsynced. qmail-send is
# not running, so messages stay in todo/ (after qmail-queue's fsyncs);
# Postfix puts every message on hold (smtpd_client_restrictions =
# static:HOLD: cleanup fsyncs the file and renames it into hold/, and qmgr
# never sees it). The queues are emptied between runs. Both log: tcpserver
# -v and qmail-smtpd to a file, Postfix to its maillog_file.
#
# CPU per message: each MTA runs in a cgroup of its own (cgroup v1
# cpuacct or v2), so the CPU time of its whole process tree (tcpserver,
# qmail-smtpd, qmail-queued or qmail-queue; master, smtpd, cleanup, postlogd, ...) is
# read before and after each run. On a shared machine this is much
# steadier than msg/s, and at full load msg/s is cores / CPU per message.
#
# Knobs: BENCH_SMTP_N messages per run (1000), BENCH_SMTP_RUNS runs per
# point (3, the median is reported), BENCH_SMTP_SESSIONS ("1 10 50"),
# BENCH_SMTP_SIZE payload bytes (3000).

bench_need_root "Postfix's master needs root"
bench_need smtp-source postfix
bench_need postfix postfix
bench_need postsuper postfix
# shellcheck source=../bench.lib/postfix.sh
source scripts/bench.lib/postfix.sh

smtp_n=${BENCH_SMTP_N:-1000}
smtp_runs=${BENCH_SMTP_RUNS:-3}
smtp_sessions=${BENCH_SMTP_SESSIONS:-1 10 50}
smtp_size=${BENCH_SMTP_SIZE:-3000}

# Both queues live in a directory of their own at the top of the root
# file system (BENCH_SMTP_DIR to choose another): ext4 places a new
# top-level directory in a block group of its own, away from /tmp, where
# builds and tests create and delete files all the time. On ext4 without
# a journal (as on some VMs) every new file scans past the inodes freed
# recently (for up to 5 minutes) in its block group, so a queue
# sharing /tmp's group pays for the whole machine's churn; a real
# /var/qmail/queue or /var/spool/postfix does not share it either.
smtp_dir=${BENCH_SMTP_DIR:-$(mktemp -d /qmail-rs-bench.XXXXXX)}
chmod 755 "$smtp_dir"
[ -n "${BENCH_SMTP_DIR:-}" ] || bench_atexit "rm -rf '$smtp_dir'"

# qmail-rs behind our tcpserver.
smtp_root=$smtp_dir/smtp-qmail
bench_qmail_tree "$smtp_root"
smtp_home=$smtp_root/var/qmail
echo bench.example > "$smtp_home/control/me"
echo bench.example > "$smtp_home/control/rcpthosts"
printf '127.:allow\n:allow\n' |
  "$BENCH_BIN/tcprules" "$smtp_home/control/tcp.smtp.cdb" "$smtp_home/control/tcp.smtp.tmp"

# smtp_cgroup NAME: a new cgroup for CPU accounting; prints its directory
# (nothing when none can be made).
smtp_cgroup() {
  local d
  for d in /sys/fs/cgroup/cpuacct /sys/fs/cgroup; do
    [ -f "$d/cpuacct.usage" ] || [ -f "$d/cgroup.controllers" ] || continue
    if mkdir "$d/qmail-rs-bench-$1-$$" 2>/dev/null; then
      echo "$d/qmail-rs-bench-$1-$$"
      return
    fi
  done
}
# smtp_cpu WHICH: CPU microseconds used so far in WHICH's cgroup.
smtp_cpu() {
  local cg=smtp_cg_${1%-exec}
  cg=${!cg}
  if [ -z "$cg" ]; then echo 0
  elif [ -f "$cg/cpuacct.usage" ]; then echo $(($(cat "$cg/cpuacct.usage") / 1000))
  else awk '$1 == "usage_usec" { print $2 }' "$cg/cpu.stat"; fi
}
smtp_cg_qmail=$(smtp_cgroup qmail)
smtp_cg_postfix=$(smtp_cgroup postfix)
bench_atexit "rmdir $smtp_cg_qmail $smtp_cg_postfix 2>/dev/null"
# smtp_enter WHICH: move this (sub)shell into WHICH's cgroup.
smtp_enter() {
  local cg=smtp_cg_$1
  cg=${!cg}
  if [ -n "$cg" ]; then echo "$BASHPID" > "$cg/cgroup.procs"; fi
}

# The resident queue writer, in the same cgroup so its CPU counts.
(
  smtp_enter qmail
  exec env QMAILRS_ROOT="$smtp_root" QMAILRS_SINGLE_USER=1 \
    "$BENCH_BIN/qmail-queued" 2> "$smtp_root/queued.log"
) &
smtp_dpid=$!
bench_atexit "kill $smtp_dpid 2>/dev/null; wait $smtp_dpid 2>/dev/null"
# smtp_tcpserver PORT [ENV...]: our tcpserver and qmail-smtpd on PORT.
smtp_tcpserver() {
  local port=$1
  shift
  smtp_enter qmail
  exec env QMAILRS_ROOT="$smtp_root" QMAILRS_SINGLE_USER=1 "$@" \
    "$BENCH_BIN/tcpserver" -v -R -l bench.example -c 100 -b 100 -x "$smtp_home/control/tcp.smtp.cdb" \
    127.0.0.1 "$port" "$smtp_home/bin/qmail-smtpd" 2>> "$smtp_root/log"
}
smtp_qport=$(bench_free_port)
smtp_tcpserver "$smtp_qport" &
smtp_qpid=$!
bench_atexit "kill $smtp_qpid 2>/dev/null; wait $smtp_qpid 2>/dev/null"
smtp_xport=$(bench_free_port)
smtp_tcpserver "$smtp_xport" QMAILQUEUE=bin/qmail-queue &
smtp_xpid=$!
bench_atexit "kill $smtp_xpid 2>/dev/null; wait $smtp_xpid 2>/dev/null"

# Postfix, holding everything it accepts.
smtp_pf=$smtp_dir/smtp-postfix
smtp_pport=$(bench_free_port)
bench_postfix_setup "$smtp_pf" "$smtp_pport" \
  'mydestination = bench.example' \
  'local_recipient_maps =' \
  'smtpd_client_restrictions = check_client_access static:HOLD'
bench_atexit "bench_postfix_stop '$smtp_pf'"
(smtp_enter postfix && bench_postfix_start "$smtp_pf") || exit 1

# smtp_wait PORT: until something listens on 127.0.0.1:PORT (10 s).
smtp_wait() {
  local i
  for i in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "bench: smtp: nothing listens on 127.0.0.1:$1" >&2
  exit 1
}
smtp_wait "$smtp_qport"
smtp_wait "$smtp_xport"
smtp_wait "$smtp_pport"

# smtp_queued WHICH: messages in the durable queue now.
smtp_queued() {
  case $1 in
    qmail | qmail-exec) find "$smtp_home/queue/todo" -type f | wc -l ;;
    postfix) find "$smtp_pf/spool/hold" -type f | wc -l ;;
  esac
}
# Queues are not emptied between runs: each run counts what it added.
# Deleting thousands of queue files would tax the next runs' file
# creations on ext4 without a journal (it will not reuse an inode freed
# in the last minutes, and scans past each one from the start of the
# block group for every new file), and would do so
# unequally: qmail-rs makes two inodes per message (mess, intd), Postfix
# one. The top-level directory is removed at exit.
smtp_port() {
  case $1 in
    qmail) echo "$smtp_qport" ;;
    qmail-exec) echo "$smtp_xport" ;;
    *) echo "$smtp_pport" ;;
  esac
}

# smtp_run WHICH SESSIONS COUNT: one smtp-source run; prints msg/s and
# the MTA's CPU milliseconds per message.
smtp_run() {
  local t0 t1 got c0 c1 n0
  n0=$(smtp_queued "$1")
  c0=$(smtp_cpu "$1")
  t0=$(bench_now)
  smtp-source -s "$2" -m "$3" -l "$smtp_size" -M bench.example \
    -f sender@bench.example -t rcpt@bench.example "127.0.0.1:$(smtp_port "$1")" >&2 ||
    { echo "bench: smtp: smtp-source against $1 failed" >&2; exit 1; }
  t1=$(bench_now)
  c1=$(smtp_cpu "$1")
  got=$(($(smtp_queued "$1") - n0))
  if [ "$got" != "$3" ]; then
    echo "bench: smtp: $1 queued $got of $3 messages" >&2
    exit 1
  fi
  echo "$(bench_rate "$3" "$t0" "$t1") $(echo "scale=2; ($c1 - $c0) / 1000 / $3" | bc -l)"
}

echo "after queueing: qmail-send not running (todo/), Postfix holds (hold/); fsync on"
echo "$smtp_n messages of $smtp_size bytes per run, one per connection, median of $smtp_runs runs"
for mta in qmail qmail-exec postfix; do
  smtp_run "$mta" 10 100 > /dev/null # warm-up
done
kill -0 "$smtp_dpid" 2>/dev/null ||
  { echo "bench: smtp: qmail-queued died: $(cat "$smtp_root/queued.log")" >&2; exit 1; }
[ -n "$smtp_cg_qmail" ] && [ -n "$smtp_cg_postfix" ] ||
  echo "(no cgroup for CPU accounting: CPU per message shows 0)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $smtp_sessions; do
  q=() p=() qc=() pc=() x=() xc=()
  for _ in $(seq "$smtp_runs"); do
    out=$(smtp_run qmail "$s" "$smtp_n")
    read -r rate cpu <<< "$out"
    q+=("$rate") qc+=("$cpu")
    out=$(smtp_run qmail-exec "$s" "$smtp_n")
    read -r rate cpu <<< "$out"
    x+=("$rate") xc+=("$cpu")
    out=$(smtp_run postfix "$s" "$smtp_n")
    read -r rate cpu <<< "$out"
    p+=("$rate") pc+=("$cpu")
  done
  qm=$(bench_median "${q[@]}")
  pm=$(bench_median "${p[@]}")
  qcm=$(bench_median "${qc[@]}")
  pcm=$(bench_median "${pc[@]}")
  xm=$(bench_median "${x[@]}")
  xcm=$(bench_median "${xc[@]}")
  bench_report "qmail-rs, $s sessions (runs: ${q[*]})" "$qm" "msg/s"
  bench_report "qmail-rs exec, $s sessions (runs: ${x[*]})" "$xm" "msg/s"
  bench_report "Postfix, $s sessions (runs: ${p[*]})" "$pm" "msg/s"
  bench_report "qmail-rs / Postfix, $s sessions" "$(bench_ratio "$qm" "$pm")" "x (target 1.3 at 10, 50)"
  bench_report "qmail-rs CPU, $s sessions (runs: ${qc[*]})" "$qcm" "ms/msg"
  bench_report "qmail-rs exec CPU, $s sessions (runs: ${xc[*]})" "$xcm" "ms/msg"
  bench_report "Postfix CPU, $s sessions (runs: ${pc[*]})" "$pcm" "ms/msg"
  bench_report "Postfix CPU / qmail-rs CPU, $s sessions" "$(bench_ratio "$pcm" "$qcm")" "x"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# herd agent: speaks the herd protocol (src/protocol/README.md) on stdin/stdout.
# POSIX sh only (tested under dash and busybox sh) and POSIX utilities only:
# cat cksum cp dd kill mkdir mkfifo mv rm uname wc.
#
# Every process it starts costs milliseconds here and far more on a slow host
# (a fork and exec is about 5 ms on a fast VM, a tenth of a second or more on
# a VAX), so per task it starts only what it must: the task itself, one
# cksum and one cat per non-empty output file, and one rm for every
# SWEEP_EVERY finished tasks.
#
# It runs nothing but what the master sends it and never evaluates a string:
# message words are split with globbing off, argv words and environment
# entries arrive one per line and are passed on as quoted words.
#
# Processes: this shell (R) reads the master's messages; a background writer
# (W) is the only process that writes stdout, so replies, logs and files never
# interleave. R and the tasks hand W short event lines through a FIFO (single
# writes under PIPE_BUF, hence atomic); anything long goes through files.

HERD_AGENT_VERSION=1
HERD_PROTO=1

set -f
umask 022
PATH=${PATH:-/bin:/usr/bin}
export PATH

root=${1:-.}
case $root in -*) root=./$root ;; esac
mkdir -p "$root" || exit 111
root=$(cd "$root" && pwd) || exit 111
case $0 in */.herd-agent.*.sh) rm -f "$0" ;; esac
state=$root/.herd-agent/$$
rm -rf "$state"
mkdir -p "$state/tasks" || exit 111
fifo=$state/events
mkfifo "$fifo" || exit 111

# --- W: the only writer of stdout ------------------------------------------

# send_files HEAD FILE...: "HEAD SIZE CRC..." (one pair per file), then the
# bytes. An empty file's CRC is known, so it costs no process.
send_files() {
  w_head=$1
  shift
  w_hdr=$w_head
  for w_f in "$@"; do
    if [ -s "$w_f" ]; then
      w_ck=$(cksum <"$w_f") || w_ck='0 0'
    else
      w_ck='4294967295 0'
    fi
    # cksum prints "CRC SIZE".
    w_hdr="$w_hdr ${w_ck#* } ${w_ck%% *}"
  done
  printf '%s\n' "$w_hdr"
  for w_f in "$@"; do
    [ ! -s "$w_f" ] || cat <"$w_f"
  done
}

hello_info() {
  printf 'agent=%s\n' "$HERD_AGENT_VERSION"
  printf 'proto=%s\n' "$HERD_PROTO"
  printf 'pid=%s\n' "$$"
  printf 'root=%s\n' "$root"
  printf 'uname=%s\n' "$(uname -s -r -m 2>/dev/null)"
  printf 'caps=run,split,put,get,kill,ping,cksum,steps\n'
  for w_t in tar gzip bzip2 xz rsync bmake make pkg_add pkg_create pkg_info; do
    if w_p=$(command -v "$w_t" 2>/dev/null); then
      printf 'tool.%s=%s\n' "$w_t" "$w_p"
    fi
  done
}

# Finished tasks' directories are removed in batches: one rm for every
# SWEEP_EVERY of them (their names wait in $state/swept, one per line).
SWEEP_EVERY=16
w_nswept=0
sweep() {
  set --
  while IFS= read -r w_s; do
    set -- "$@" "$w_s"
  done <"$state/swept"
  [ $# -eq 0 ] || rm -rf -- "$@"
  : >"$state/swept"
  w_nswept=0
}

writer() {
  hello_info >"$state/hello"
  send_files "hello $HERD_PROTO" "$state/hello"
  : >"$state/swept"
  while IFS= read -r w_ev; do
    set -- $w_ev
    case $1 in
    pong | ack | ok | started | proto | err)
      printf '%s\n' "$w_ev"
      ;;
    step)
      # A step of a task of several (run_steps): its own output, sent as it ends.
      w_f=$state/tasks/$2/out.$3
      send_files "step $2 $3 $4" "$w_f"
      : >"$w_f"
      ;;
    done)
      w_t=$state/tasks/$2
      read -r w_st w_secs <"$w_t/result"
      send_files "done $2 $w_st $w_secs" "$w_t/out" "$w_t/err"
      # Emptied now (a big log should not wait), removed with the next sweep.
      : >"$w_t/out"
      : >"$w_t/err"
      printf '%s\n' "$w_t" >>"$state/swept"
      w_nswept=$((w_nswept + 1))
      [ "$w_nswept" -lt "$SWEEP_EVERY" ] || sweep
      ;;
    get)
      w_g=$state/get.$2
      IFS= read -r w_path <"$w_g.path"
      if [ -f "$w_path" ] && [ -r "$w_path" ] && cp "$w_path" "$w_g.data" 2>/dev/null; then
        send_files "file $2" "$w_g.data"
      else
        printf 'err %s no-such-file\n' "$2"
      fi
      rm -f "$w_g.path" "$w_g.data"
      ;;
    esac
  done
}

writer <"$fifo" &
writer_pid=$!
exec 4>"$fifo"

post() {
  printf '%s\n' "$*" >&4
}

# --- R: message handlers ----------------------------------------------------

# abspath P: sets a_path to P if absolute, else to P relative to the agent
# root (a variable, not output: a command substitution would fork).
abspath() {
  case $1 in
  /*) a_path=$1 ;;
  *) a_path=$root/$1 ;;
  esac
}

is_uint() {
  case $1 in
  '' | *[!0-9]*) return 1 ;;
  esac
  return 0
}

# task_body DIR CWD ARGV...: always run with "&", so it is a process of its
# own whose environment and cwd are the task's; exec makes $! the task's pid.
task_body() {
  b_dir=$1
  b_cwd=$2
  shift 2
  while IFS= read -r b_kv; do
    export "$b_kv"
  done <"$b_dir/env"
  cd "$b_cwd" || {
    printf 'herd-agent: cannot change to directory %s\n' "$b_cwd" >&2
    exit 125
  }
  exec "$@"
}

# step_exec N WORDS...: execs the first N of WORDS (one step of run_steps, in
# a process of its own): they are rotated to the end, what precedes them dropped.
step_exec() {
  e_n=$1
  shift
  e_drop=$(($# - e_n))
  while [ "$e_n" -gt 0 ]; do
    set -- "$@" "$1"
    shift
    e_n=$((e_n - 1))
  done
  shift "$e_drop"
  exec "$@"
}

# steps_ok N1 CWD1 ARGV1... N2 CWD2 ARGV2...: each count at least 1 and no
# more words than are left after its cwd.
steps_ok() {
  while [ $# -gt 0 ]; do
    is_uint "$1" && [ "$1" -gt 0 ] && [ "$1" -le $(($# - 2)) ] || return 1
    v_n=$1
    shift 2
    shift "$v_n"
  done
  return 0
}

# run_steps ID N1 CWD1 ARGV1... N2 CWD2 ARGV2...: one task of several steps,
# run in turn in the task's environment (set once), each in its own cwd, in
# the background. Each step's output (stdout and stderr) goes to out.K, its
# pid to pid, and when it ends W is told "step ID K STATUS" and sends out.K;
# the first step that fails is the last. A kill (do_kill) leaves its signal
# in kill: a step that starts after it is signalled at once and none after
# it starts. Then "done ID" with the last status and empty output.
run_steps() {
  # What the loop needs after the task's environment is in place is kept in
  # the positional parameters meanwhile: an entry may have any name.
  set -- "$state" "$root" "$@"
  while IFS= read -r s_kv; do
    export "$s_kv"
  done <"$1/tasks/$3/env"
  s_dir=$1/tasks/$3
  s_root=$2
  s_id=$3
  shift 3
  s_st=0
  s_k=0
  while [ $# -gt 0 ]; do
    if [ -f "$s_dir/kill" ]; then
      IFS= read -r s_sig <"$s_dir/kill"
      sig_status "$s_sig"
      break
    fi
    s_n=$1
    case $2 in
    /*) s_cwd=$2 ;;
    *) s_cwd=$s_root/$2 ;;
    esac
    shift 2
    s_k=$((s_k + 1))
    if cd "$s_cwd" 2>/dev/null; then
      step_exec "$s_n" "$@" <"/dev/null" >"$s_dir/out.$s_k" 2>&1 4>&- &
      s_pid=$!
      printf '%s\n' "$s_pid" >"$s_dir/pid"
      [ "$s_k" -gt 1 ] || post "started $s_id $s_pid"
      # A kill that read the last step's pid left its signal before: this step gets it.
      if [ -f "$s_dir/kill" ]; then
        IFS= read -r s_sig <"$s_dir/kill"
        kill -s "$s_sig" "$s_pid" 2>/dev/null
      fi
      wait "$s_pid"
      s_st=$?
    else
      printf 'herd-agent: cannot change to directory %s\n' "$s_cwd" >"$s_dir/out.$s_k"
      s_st=125
    fi
    post "step $s_id $s_k $s_st"
    [ "$s_st" -eq 0 ] || break
    shift "$s_n"
  done
  printf '%s -\n' "$s_st" >"$s_dir/result"
  post "done $s_id"
}

# sig_status SIG: sets s_st to the status of a process killed by SIG.
sig_status() {
  case $1 in
  HUP) s_st=129 ;;
  INT) s_st=130 ;;
  KILL) s_st=137 ;;
  *) s_st=143 ;;
  esac
}

# run_task ID CWD ERRFILE ARGV...: runs in the background; reports "done ID" to W.
run_task() {
  t_id=$1
  t_cwd=$2
  t_errname=$3
  shift 3
  t_dir=$state/tasks/$t_id
  if [ "$t_errname" = out ]; then
    task_body "$t_dir" "$t_cwd" "$@" <"/dev/null" >"$t_dir/out" 2>&1 4>&- &
  else
    task_body "$t_dir" "$t_cwd" "$@" <"/dev/null" >"$t_dir/out" 2>"$t_dir/err" 4>&- &
  fi
  t_pid=$!
  printf '%s\n' "$t_pid" >"$t_dir/pid"
  post "started $t_id $t_pid"
  wait "$t_pid"
  t_st=$?
  # The master times tasks itself; SECS is "-" (see the protocol).
  printf '%s -\n' "$t_st" >"$t_dir/result"
  post "done $t_id"
}

do_run() {
  r_id=$1
  r_nargs=$2
  r_nenv=$3
  r_mode=$4
  IFS= read -r r_cwd || return 1
  r_bad=
  if ! is_uint "$r_id" || ! is_uint "$r_nargs" || ! is_uint "$r_nenv"; then
    return 1
  fi
  r_dir=$state/tasks/$r_id
  mkdir "$r_dir" 2>/dev/null || r_bad=duplicate-task
  [ -n "$r_bad" ] || : >"$r_dir/env"
  r_i=0
  while [ "$r_i" -lt "$r_nenv" ]; do
    IFS= read -r r_kv || return 1
    case ${r_kv%%=*} in
    '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) r_bad=${r_bad:-bad-env-name} ;;
    esac
    case $r_kv in
    *=*) ;;
    *) r_bad=${r_bad:-bad-env-entry} ;;
    esac
    [ -n "$r_bad" ] || printf '%s\n' "$r_kv" >>"$r_dir/env"
    r_i=$((r_i + 1))
  done
  set --
  r_i=0
  while [ "$r_i" -lt "$r_nargs" ]; do
    IFS= read -r r_w || return 1
    set -- "$@" "$r_w"
    r_i=$((r_i + 1))
  done
  [ $# -gt 0 ] || r_bad=${r_bad:-empty-argv}
  case $r_mode in
  merge | split) ;;
  steps) steps_ok "$@" || r_bad=${r_bad:-bad-steps} ;;
  *) r_bad=${r_bad:-bad-mode} ;;
  esac
  if [ -n "$r_bad" ]; then
    [ "$r_bad" = duplicate-task ] || rm -rf "$r_dir"
    post "err $r_id $r_bad"
    return 0
  fi
  r_err=out
  [ "$r_mode" = split ] && r_err=err
  : >"$r_dir/err"
  abspath "$r_cwd"
  if [ "$r_mode" = steps ]; then
    : >"$r_dir/out"
    run_steps "$r_id" "$@" &
  else
    run_task "$r_id" "$a_path" "$r_err" "$@" &
  fi
  return 0
}

do_kill() {
  k_id=$1
  case $2 in
  TERM | KILL | INT | HUP) k_sig=$2 ;;
  *) k_sig=TERM ;;
  esac
  # A finished task (its result written) may wait for the sweep: its pid is not its own any more.
  if is_uint "$k_id" && [ -f "$state/tasks/$k_id/pid" ] && [ ! -f "$state/tasks/$k_id/result" ]; then
    # Left first for a task of steps (run_steps): no step starts after it.
    printf '%s\n' "$k_sig" >"$state/tasks/$k_id/kill"
    IFS= read -r k_pid <"$state/tasks/$k_id/pid"
    kill -s "$k_sig" "$k_pid" 2>/dev/null
  fi
}

# read_exact N FILE: reads exactly N bytes of stdin into FILE. The master sends
# nothing beyond them until we ack, so dd can never read past them. Each dd
# asks for whole 512-byte blocks, at most as many as are still due: short
# reads (a pipe returns what has arrived) only end a dd early, and one dd
# usually takes most of a chunk, so few processes are started per chunk.
read_exact() {
  x_n=$1
  x_f=$2
  : >"$x_f"
  x_have=0
  while [ "$x_have" -lt "$x_n" ]; do
    x_left=$((x_n - x_have))
    if [ "$x_left" -ge 512 ]; then
      dd ibs=512 count=$((x_left / 512)) 2>/dev/null >>"$x_f" || return 1
    else
      dd bs="$x_left" count=1 2>/dev/null >>"$x_f" || return 1
    fi
    set -- $(wc -c <"$x_f")
    [ "$1" -gt "$x_have" ] || return 1
    x_have=$1
  done
  return 0
}

# Puts are multiplexed in the main loop: "put ID MODE" + path line opens one,
# "chunk ID N" + N bytes appends (then "ack ID"), "end ID SIZE CRC" checks
# and installs it, "abort ID" drops it. Other messages may come in between.
do_put() {
  is_uint "$1" || return 1
  p_f=$state/put.$1
  IFS= read -r p_path || return 1
  abspath "$p_path"
  printf '%s\n' "$a_path" >"$p_f.path"
  case $2 in
  [0-7][0-7][0-7] | [0-7][0-7][0-7][0-7]) printf '%s\n' "$2" >"$p_f.mode" ;;
  *) printf 'bad-mode\n' >"$p_f.bad" ;;
  esac
  : >"$p_f" || printf 'cannot-create\n' >"$p_f.bad"
  return 0
}

do_chunk() {
  is_uint "$1" && is_uint "$2" || return 1
  p_f=$state/put.$1
  if [ -f "$p_f.path" ] && [ ! -s "$p_f" ] && [ ! -f "$p_f.bad" ]; then
    # The first chunk (most files are one): read straight into the file, no copy.
    read_exact "$2" "$p_f" || return 1
  else
    read_exact "$2" "$state/chunk" || return 1
    if [ -f "$p_f.path" ]; then
      cat "$state/chunk" >>"$p_f" || printf 'write-failed\n' >"$p_f.bad"
    fi
    rm -f "$state/chunk"
  fi
  post "ack $1"
  return 0
}

do_end() {
  is_uint "$1" || return 1
  p_f=$state/put.$1
  if [ ! -f "$p_f.path" ]; then
    post "err $1 unknown-put"
    return 0
  fi
  p_bad=
  [ -f "$p_f.bad" ] && IFS= read -r p_bad <"$p_f.bad"
  if [ -z "$p_bad" ]; then
    set -- "$1" "$2" "$3" $(cksum <"$p_f")
    [ "$2" = "$5" ] && [ "$3" = "$4" ] || p_bad=checksum-mismatch
  fi
  if [ -z "$p_bad" ]; then
    IFS= read -r p_dest <"$p_f.path"
    IFS= read -r p_mode <"$p_f.mode"
    [ -d "${p_dest%/*}" ] || mkdir -p "${p_dest%/*}" 2>/dev/null
    # The file was made under umask 022: mode 644 already.
    { { [ "$p_mode" = 644 ] || chmod "$p_mode" "$p_f"; } && mv -f "$p_f" "$p_dest"; } 2>/dev/null || p_bad=cannot-install
  fi
  rm -f "$p_f" "$p_f.path" "$p_f.mode" "$p_f.bad"
  if [ -z "$p_bad" ]; then
    post "ok $1"
  else
    post "err $1 $p_bad"
  fi
  return 0
}

do_abort() {
  is_uint "$1" || return 1
  rm -f "$state/put.$1" "$state/put.$1.path" "$state/put.$1.mode" "$state/put.$1.bad"
  post "err $1 aborted"
  return 0
}

do_get() {
  g_id=$1
  IFS= read -r g_path || return 1
  if ! is_uint "$g_id"; then
    post "proto bad-request"
    return 0
  fi
  abspath "$g_path"
  printf '%s\n' "$a_path" >"$state/get.$g_id.path"
  post "get $g_id"
}

# cleanup: stop the tasks (KILL after a grace period), let W drain, remove state.
cleanup() {
  trap '' HUP INT TERM PIPE
  c_pids=
  set +f
  for c_t in "$state"/tasks/*; do
    [ -d "$c_t" ] || continue
    # A finished task waiting for the sweep: its pid may be another process's now.
    [ -f "$c_t/result" ] && continue
    # A task started just now may not have written its pid yet.
    c_n=0
    while [ ! -f "$c_t/pid" ] && [ ! -f "$c_t/result" ] && [ "$c_n" -lt 5 ]; do
      sleep 1
      c_n=$((c_n + 1))
    done
    # A task of steps starts no further step.
    printf 'TERM\n' >"$c_t/kill"
    [ -f "$c_t/pid" ] && IFS= read -r c_pid <"$c_t/pid" && c_pids="$c_pids $c_pid"
  done
  set -f
  c_killer=
  if [ -n "$c_pids" ]; then
    kill -s TERM $c_pids 2>/dev/null
    (
      sleep 5
      kill -s KILL $c_pids 2>/dev/null
    ) </dev/null >/dev/null 2>&1 4>&- &
    c_killer=$!
  fi
  exec 4>&-
  wait "$writer_pid"
  [ -n "$c_killer" ] && kill -s TERM "$c_killer" 2>/dev/null
  rm -rf "$state"
  rmdir "$root/.herd-agent" 2>/dev/null
}

trap 'cleanup; exit 129' HUP
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 130' INT
# The writer dies of SIGPIPE when stdout breaks; our next post would kill us
# the same way, leaving the tasks running: stop them instead.
trap 'cleanup; exit 141' PIPE

while IFS= read -r m_line; do
  set -- $m_line
  case $1 in
  ping) post "pong $2" ;;
  run) do_run "$2" "$3" "$4" "$5" || break ;;
  kill) do_kill "$2" "$3" ;;
  put) do_put "$2" "$3" || break ;;
  chunk) do_chunk "$2" "$3" || break ;;
  end) do_end "$2" "$3" "$4" || break ;;
  abort) do_abort "$2" || break ;;
  get) do_get "$2" || break ;;
  exit) break ;;
  '') ;;
  *) post "proto unknown-message" ;;
  esac
done
cleanup
exit 0

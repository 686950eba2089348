#!/bin/sh
# /init of the scx-arena VM (busybox sh, PID 1).
#
# Runs /scxvm/cmds/NNN-<name>.sh in order and prints machine-readable
# markers on the console:
#   SCXVM INIT uptime=<s>           /init started
#   SCXVM BEGIN <name>              a command starts
#   SCXVM EXIT <name> <rc>          it finished with status rc
#   SCXVM STATE <state> uptime=<s>  /sys/kernel/sched_ext/state changed
#   SCXVM WATCHDOG <why>            the deadline expired (ps + dmesg follow)
#   SCXVM DONE                      all commands ran; powering off
# Settings come from /scxvm/config (written by the host side).

export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root TERM=dumb

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
ln -sf /proc/self/fd /dev/fd 2>/dev/null
# /var/run/scx holds schedulers' stats sockets; loopback carries their
# metrics endpoints.
ln -sf /run /var/run 2>/dev/null || { mkdir -p /var && ln -sf /run /var/run; }
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

SCXVM_DEADLINE=60
SCXVM_WATCH_STATE=0
[ -f /scxvm/config ] && . /scxvm/config

# Show KERN_INFO messages (sched_ext enable/disable) from now on; boot
# itself ran with `quiet`.
echo 7 > /proc/sys/kernel/printk

uptime_s() { cut -d' ' -f1 /proc/uptime; }

poweroff_now() {
	sync
	poweroff -f
	# Should not be reached; make sure PID 1 never exits.
	echo o > /proc/sysrq-trigger
	while :; do sleep 1; done
}

echo "SCXVM INIT uptime=$(uptime_s)"

# Watchdog: if the commands take longer than the deadline, dump what is
# running and power off.
(
	sleep "$SCXVM_DEADLINE"
	echo "SCXVM WATCHDOG deadline ${SCXVM_DEADLINE}s exceeded"
	echo "--- processes (kernel threads left out) ---"
	ps | grep -v ' \['
	echo w > /proc/sysrq-trigger 2>/dev/null
	echo "--- dmesg tail ---"
	dmesg | tail -n 25
	echo "SCXVM WATCHDOG end"
	poweroff_now
) &
WATCHDOG_PID=$!

STATE_PID=
if [ "$SCXVM_WATCH_STATE" = 1 ] && [ -r /sys/kernel/sched_ext/state ]; then
	(
		last=
		while :; do
			s=$(cat /sys/kernel/sched_ext/state 2>/dev/null)
			if [ "$s" != "$last" ]; then
				echo "SCXVM STATE $s uptime=$(uptime_s)"
				last=$s
			fi
			sleep 0.1
		done
	) &
	STATE_PID=$!
fi

for f in /scxvm/cmds/*.sh; do
	[ -e "$f" ] || continue
	b=${f##*/}
	b=${b%.sh}
	name=${b#*-}
	echo "SCXVM BEGIN $name"
	sh "$f" </dev/null 2>&1
	rc=$?
	echo
	echo "SCXVM EXIT $name $rc"
done

[ -n "$STATE_PID" ] && kill "$STATE_PID" 2>/dev/null
kill "$WATCHDOG_PID" 2>/dev/null
echo "SCXVM DONE"
poweroff_now

#!/usr/bin/env bash
# 03 - Network namespace: a veth pair between the host and an environment, an address on
# each end, ping across, and ip netns seeing the environment.
#
# A new network namespace has only a loopback interface. A veth pair is a virtual cable:
# two interfaces, whatever enters one leaves the other. Put one end in the environment and
# the two namespaces can talk, and only through it.
# The demo's traffic stays on that cable; the step to the internet (forwarding + NAT) is
# explained at the end, not executed.
# Needs root: linking a veth end into another namespace needs CAP_NET_ADMIN on the host.
# Usage: 03-net-namespace.sh [--yes]      (NSM_DEMO_YES=1 works too)

. "$(dirname "$0")/lib.sh"
demo_init "$@"

require_root "a veth pair between the host and a namespace" "CAP_NET_ADMIN in the host's network namespace"
need_cmd ip iproute2
need_cmd ping iputils-ping

ENV=demo-net-$$
HOST_IF=demoh$$ # interface names: at most 15 characters
ENV_IF=demoe$$

# A /30 of its own, from the PID, so that demos running side by side do not collide.
NET=10.$((234 + (($$ >> 14) & 15))).$((($$ >> 6) & 255))
BASE=$((($$ & 63) * 4))
HOST_IP=$NET.$((BASE + 1))
ENV_IP=$NET.$((BASE + 2))
if ip -4 -o addr show | grep -qE " ($HOST_IP|$ENV_IP)/"; then
  skip "the addresses $HOST_IP and $ENV_IP are already in use on this host"
fi

step "An environment with its own network namespace"
say "As root, nsm create links the new network namespace at /run/netns/$ENV, as ip netns add does, so ip netns and every tool that takes a netns name can use it."
create_env "$ENV" -t net,uts
run ip netns list
ip netns list | grep -q "^$ENV\b" || die "ip netns list does not show $ENV"
result "ip netns list shows $ENV"
say "Inside there is only the loopback interface (nsm brings it up):"
run nsm exec "$ENV" -- ip -br link
pause

step "A veth pair: one end stays, one end moves in"
say "Plain ip commands are the lesson here. (nsm create will do this with --veth; this demo does not depend on it.)"
at_exit "ip link del '$HOST_IF'"
run ip link add "$HOST_IF" type veth peer name "$ENV_IF"
run ip link set "$ENV_IF" netns "$ENV"
say "$ENV_IF has left the host's namespace (ip netns exec and nsm exec both reach it):"
run ip -br link show "$HOST_IF"
run ip netns exec "$ENV" ip -br link show "$ENV_IF"
pause

step "An address on each end"
run ip addr add "$HOST_IP/30" dev "$HOST_IF"
run ip link set "$HOST_IF" up
run nsm exec "$ENV" -- ip addr add "$ENV_IP/30" dev "$ENV_IF"
run nsm exec "$ENV" -- ip link set "$ENV_IF" up
run nsm exec "$ENV" -- ip -br addr
pause

step "Ping across"
run ping -c 2 -W 2 "$ENV_IP" || die "the host cannot ping $ENV_IP"
run nsm exec "$ENV" -- ping -c 2 -W 2 "$HOST_IP" || die "the environment cannot ping $HOST_IP"
result "ping across the veth pair works both ways"
pause

step "Nothing else is reachable from inside"
say "The environment's routing table has only the /30 of the cable: no default route, so the internet (and the host's other networks) is unreachable from inside."
run nsm exec "$ENV" -- ip route
run_may_fail nsm exec "$ENV" -- ip route get 1.1.1.1

step "To the internet (explained, not executed)"
say "Three more steps would give the environment the host's internet connection: a default route inside via the host's end, forwarding on the host, and NAT (masquerading) for the environment's address as its packets leave the host:"
show "nsm exec $ENV -- ip route add default via $HOST_IP" \
  "sysctl -w net.ipv4.ip_forward=1" \
  "iptables -t nat -A POSTROUTING -s $NET.$BASE/30 ! -o $HOST_IF -j MASQUERADE"
say "plus a DNS server in the environment's /etc/resolv.conf. They change the whole host's forwarding and firewall, so the demo only shows them. (nsm create --nat is being added to do this for an environment.)"

step "Clean up"
say "Destroying the environment frees its network namespace; the kernel then deletes the veth end inside, and a veth pair dies with either end."
run nsm destroy "$ENV"
for _ in $(seq 20); do ip link show "$HOST_IF" > /dev/null 2>&1 || break; sleep 0.1; done
if ip link show "$HOST_IF" > /dev/null 2>&1; then die "$HOST_IF survived the namespace"; fi
result "$HOST_IF is gone with the namespace"

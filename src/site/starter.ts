/**
 * The commented starter site file `obsbuild init` writes: the guide's network (scenario 000 in docs/scenarios.md) with one
 * obs600 directing HTTP to three real servers by NAT, checked by keepalived.
 */

export const STARTER_PROFILES = ['lb'] as const;
export type StarterProfile = (typeof STARTER_PROFILES)[number];

export function starterSiteText(_profile: StarterProfile = 'lb'): string {
  return `# obsbuild site file: one OpenBlockS 600 as an LVS load balancer (keepalived + ipvsadm, Debian lenny).
# This starter reproduces the guide's network:
#
#   client 192.168.253.1 --- eth0 192.168.253.254 [obs600] eth1 172.16.14.120 --- real servers .121-.123
#                            virtual address 192.168.253.120 (eth0:120), HTTP port 80, NAT
#
# Check it with \`obsbuild lint\`, see the files with \`obsbuild render --out /tmp/x\`, build the stick with
# \`obsbuild image --profile lb\`. Every key not written here takes the default shown in the comments.

board: obs600                 # obs600, or vobs (the virtual stand-in board for QEMU tests)
hostname: obs600              # /etc/hostname and /etc/hosts
# timezone: Asia/Tokyo       # /etc/timezone and /etc/localtime from the rootfs's own tzdata (unset: its zone)

root:
  # The box installs with the stock root password "root". That is fine on a bench and wrong in service:
  # put a crypt hash here (e.g. from \`openssl passwd -1\` or \`mkpasswd -m sha-512\`) and delete the
  # allow_default_password line. \`obsbuild lint\` warns while root/root is allowed, and refuses the file
  # if neither is set.
  password_hash: null
  allow_default_password: true
  authorized_keys: []         # ssh-rsa / ssh-dss lines for /root/.ssh/authorized_keys (lenny has OpenSSH 5.1)

network:
  interfaces:
    eth0: { address: 192.168.253.254/24 }   # client side
    eth1: { address: 172.16.14.120/24 }     # real-server side: the real servers' default gateway
  gateway: null               # no default route, as in the guide
  nameservers: []             # empty /etc/resolv.conf: the box needs no DNS
  ip_forward: true            # net.ipv4.ip_forward = 1 in /etc/sysctl.conf (NAT needs it)

lvs:
  manager: keepalived         # keepalived (health checks) | ipvsadm (static rules, no checks)
  vrrp: null                  # one box; for an HA pair of boxes replace null with a block like this:
  # vrrp:
  #   interface: eth0
  #   virtual_router_id: 51     # 1-255, the same on both nodes, unique on the segment
  #   auth_pass: "k33pal1v"     # at most 8 characters (keepalived 1.1.15 truncates silently)
  #   advert_int: 1
  #   nopreempt: false          # true: both nodes start BACKUP and the current master keeps the addresses
  #   notify: true              # install /etc/keepalived/notify.sh for master/backup/fault transitions
  #   inside_address: 172.16.14.250   # NAT only: floating gateway address for the real servers
  #   nodes:
  #     master: { hostname: lb1, priority: 100, interfaces: { eth0: { address: 192.168.253.251/24 }, eth1: { address: 172.16.14.251/24 } } }
  #     backup: { hostname: lb2, priority: 50,  interfaces: { eth0: { address: 192.168.253.252/24 }, eth1: { address: 172.16.14.252/24 } } }
  # then \`obsbuild render --node master|backup\` (or image) builds each node.
  virtual_servers:
    - name: web
      address: 192.168.253.120   # the address clients use; becomes the alias eth0:120
      port: 80
      protocol: tcp
      forwarding: nat         # nat | dr | tun
      scheduler: wlc          # rr wrr lc wlc lblc lblcr dh sh sed nq
      persistence_timeout: 0  # seconds a client sticks to one real server; 0 = none
      delay_loop: 6           # seconds between health checks
      check: { type: http, path: /, status: 200, connect_timeout: 3, retries: 3, retry_delay: 2 }
      # check: { type: tcp, connect_timeout: 2 }   |   check: { type: none }
      sorry_server: null      # { address: ..., port: ... } served when every real server is down
      real_servers:
        - { address: 172.16.14.121, port: 80, weight: 1 }
        - { address: 172.16.14.122, port: 80, weight: 1 }
        - { address: 172.16.14.123, port: 80, weight: 1 }

packages:
  suite: lenny
  arch: powerpc
  mirror: null                # an archive URL such as http://archive.debian.org/debian, or use --packages DIR
  extra: []                   # more packages to layer in

# Time and logs for a box in service (both off while commented out):
# ntp:                        # an NTP client: lenny's ntpd (chrony on the vobs board), layered from the mirror
#   servers: [192.168.253.1]  # IPv4 addresses; host names need network.nameservers
# syslog:                     # forward syslog, keepalived's state changes included, to log hosts over UDP
#   servers: [192.168.253.1]
#   port: 514                 # sysklogd (older images) can send to 514 only
#   selector: "*.*"           # which lines: e.g. "daemon.*;auth.*" or "local0.*" (quoted: * means something in YAML)

# Your own files on the box, checked and listed in the manifest like obsbuild's own (verify reports drift,
# apply puts them back). A folder beside this file copied over / (files keep their modes, root:root;
# symlinks stay symlinks), and single entries, which win for the same path. Paths obsbuild writes itself
# (keepalived.conf, interfaces, hostname, ...) are refused: set those through their keys.
# files:
#   folder: rootfs-files        # e.g. rootfs-files/etc/motd becomes /etc/motd
#   entries:
#     - { path: /etc/motd, content: "lb1: LVS director, managed by obsbuild\\n" }
#     - { path: /usr/local/sbin/lb-report, source: files/lb-report.sh, mode: "0755" }
#     - { path: /etc/default/lb-report, content: "MAILTO=ops\\n", mode: "0640", owner: root, group: adm }
#   # owner and group: names from the rootfs's own /etc/passwd and /etc/group (users a package layered
#   # in by packages.extra creates do not exist yet when the image is built)
`;
}

/**
 * The site model: what `obsbuild.yaml` says, after parsing and validation, with every default filled in.
 * Renderers, lint, the image pipeline and the console checks all read this one shape.
 */

/** A board model: the name of a folder under board/ that holds its board.json. */
export type Board = string;
export type Forwarding = 'nat' | 'dr' | 'tun';
export type Scheduler = 'rr' | 'wrr' | 'lc' | 'wlc' | 'lblc' | 'lblcr' | 'dh' | 'sh' | 'sed' | 'nq';
export type Protocol = 'tcp' | 'udp';
export type Manager = 'keepalived' | 'ipvsadm';
export type NodeRole = 'master' | 'backup';
export type Dialect = 'lenny' | 'modern';

/** An address with prefix, e.g. `192.168.253.254/24`. */
export interface InterfaceConfig {
  address: string;
}

export interface HttpCheck {
  type: 'http';
  path: string;
  status: number;
  connect_timeout: number;
  retries: number;
  retry_delay: number;
  connect_port?: number;
}
export interface TcpCheck {
  type: 'tcp';
  connect_timeout: number;
  connect_port?: number;
}
export interface NoCheck {
  type: 'none';
}
export type HealthCheck = HttpCheck | TcpCheck | NoCheck;

export interface RealServer {
  address: string;
  port: number;
  weight: number;
}

export interface SorryServer {
  address: string;
  port: number;
}

export interface VirtualServer {
  name: string;
  address: string;
  port: number;
  protocol: Protocol;
  forwarding: Forwarding;
  scheduler: Scheduler;
  persistence_timeout: number;
  delay_loop: number;
  check: HealthCheck;
  sorry_server: SorryServer | null;
  real_servers: RealServer[];
}

export interface VrrpNode {
  hostname: string;
  priority: number;
  /** MASTER for the master node and BACKUP for the backup unless nopreempt (then both BACKUP). */
  state?: 'MASTER' | 'BACKUP';
  interfaces: Record<string, InterfaceConfig>;
}

export interface Vrrp {
  interface: string;
  virtual_router_id: number;
  auth_pass: string;
  advert_int: number;
  nopreempt: boolean;
  notify: boolean;
  /**
   * A floating address on the real-server side (e.g. 172.16.14.250): with NAT behind a pair, the real
   * servers' default gateway must move with the master, so it floats with the virtual addresses.
   */
  inside_address: string | null;
  nodes: Record<NodeRole, VrrpNode>;
}

/** One file of the site's own, put on the box as given (`files.entries`). */
export interface SiteFileEntry {
  /** Absolute path on the box. */
  path: string;
  /** A file relative to the site file's folder; exactly one of source and content is set. */
  source?: string;
  content?: string;
  /** Permission bits (no setuid, setgid or sticky). */
  mode: number;
  /** Names, resolved against the rootfs's own /etc/passwd and /etc/group. */
  owner: string;
  group: string;
}

export interface Site {
  board: Board;
  hostname: string;
  root: {
    password_hash: string | null;
    allow_default_password: boolean;
    authorized_keys: string[];
  };
  network: {
    interfaces: Record<string, InterfaceConfig>;
    gateway: string | null;
    nameservers: string[];
    /** net.ipv4.ip_forward in /etc/sysctl.conf (NAT needs it; the guide turns it on). */
    ip_forward: boolean;
    /** More /etc/sysctl.conf keys, written as `key = value` after ip_forward. */
    sysctl: Record<string, string>;
  };
  lvs: {
    manager: Manager;
    vrrp: Vrrp | null;
    virtual_servers: VirtualServer[];
  };
  packages: {
    suite: string;
    arch: string;
    mirror: string | null;
    extra: string[];
  };
  install: {
    /** The CF card device msf_init.sh partitions; the guide's box has it at /dev/sda. */
    cf_device: string;
  };
  /** The operator's own files: a folder copied over / and single entries (entries win for the same path). */
  files: {
    /** Relative to the site file's folder. */
    folder: string | null;
    entries: SiteFileEntry[];
  };
  /** A zone under the rootfs's /usr/share/zoneinfo, e.g. Asia/Tokyo; null keeps the rootfs's own. */
  timezone: string | null;
  /** NTP servers (host names or IPv4); null installs no NTP daemon. */
  ntp: { servers: string[] } | null;
  /** Remote syslog: log hosts that receive the lines matching `selector`, over UDP to `port`. */
  syslog: { servers: string[]; port: number; selector: string } | null;
}

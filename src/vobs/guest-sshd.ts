import { lennySshdAlgorithmLines } from '../remote/lenny-sshd-offer.js';

/**
 * /etc/ssh/sshd_config of the virtual board's guest: bookworm's sshd held to what lenny's OpenSSH 5.1
 * offers (one RSA host key signed ssh-rsa, lenny's key exchanges, ciphers and MACs), so a connection to the
 * guest proves the client options obsbuild passes for the real box. The rest is lenny's stock file: root may
 * log in (with a key from the site file, or the password), PAM, the sftp subsystem.
 */
export const GUEST_RSA_HOST_KEY = '/etc/ssh/ssh_host_rsa_key';

export function guestSshdConfig(): string {
  return [
    "# obsbuild virtual board: what Debian lenny's OpenSSH 5.1 offers, and nothing newer.",
    'Port 22',
    `HostKey ${GUEST_RSA_HOST_KEY}`,
    ...lennySshdAlgorithmLines(),
    'PermitRootLogin yes',
    'PubkeyAuthentication yes',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'UsePAM yes',
    'X11Forwarding no',
    'PrintMotd no',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

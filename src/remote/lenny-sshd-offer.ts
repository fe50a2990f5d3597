/**
 * What Debian lenny's OpenSSH 5.1 server offers, as sshd_config lines for a modern sshd standing in for it:
 * the private test server on 127.0.0.1 and the virtual board's guest both take their algorithm lines from
 * here, so the client options in ssh-options.ts are proven against one definition.
 *
 * One difference cannot be configured away: a modern sshd advertises server-sig-algs (with every
 * algorithm it knows, not only the accepted ones), so the client signs with rsa-sha2-512 where against 5.1
 * it falls back to ssh-rsa. Accepting ssh-rsa alone would refuse every login; the user-key list is
 * therefore RSA only (the one kind 5.1 knows besides DSA) with both signature kinds.
 */

export const LENNY_SSHD_OFFER = {
  hostKeyAlgorithms: 'ssh-rsa',
  kexAlgorithms: 'diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1',
  ciphers: 'aes128-ctr,aes128-cbc,3des-cbc',
  macs: 'hmac-sha1,hmac-md5',
  pubkeyAcceptedAlgorithms: 'ssh-rsa,rsa-sha2-512,rsa-sha2-256',
} as const;

/** The sshd_config lines that restrict a modern sshd to lenny's offer (host key files are the caller's). */
export function lennySshdAlgorithmLines(): string[] {
  const o = LENNY_SSHD_OFFER;
  return [
    `HostKeyAlgorithms ${o.hostKeyAlgorithms}`,
    `KexAlgorithms ${o.kexAlgorithms}`,
    `Ciphers ${o.ciphers}`,
    `MACs ${o.macs}`,
    `PubkeyAcceptedAlgorithms ${o.pubkeyAcceptedAlgorithms}`,
  ];
}

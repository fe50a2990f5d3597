/**
 * manifest.json, the record of one appliance's build: what went into it and what came out. `obsbuild console`
 * compares `id` with the manifest id file on the box; `format` changes whenever a field's meaning does.
 */

export const MANIFEST_FORMAT = 1;
export const MANIFEST_ID_HEX = 16;

export interface ManifestInput {
  role: 'rootfs' | 'kernel' | 'modules';
  name: string;
  size: number;
  sha256: string;
  /** Debian version for the rootfs, kernel release for the uImage and kern.tgz. */
  version?: string;
  architecture?: string;
}

export interface ManifestPackage {
  name: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
}

export interface ManifestFile {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: string;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  linkTarget?: string;
}

export interface ManifestOutput {
  path: string;
  size: number;
  sha256: string;
}

export interface ManifestIdentity {
  obsbuild: string;
  profile: string;
  sourceDateEpoch: number;
  epochSource: string;
  node: { role: 'single' | 'master' | 'backup'; hostname: string };
  site: { file: string; sha256: string };
  inputs: ManifestInput[];
  packages: ManifestPackage[];
  /** Generated configuration (everything but the files that carry the id). */
  config: ManifestFile[];
}

export interface Manifest extends ManifestIdentity {
  format: number;
  id: string;
  /** Files generated after the id was known (first-boot script, manifest-id). */
  generated: ManifestFile[];
  outputs: ManifestOutput[];
}

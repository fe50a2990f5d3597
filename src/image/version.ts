import { readFileSync } from 'node:fs';
import { assetPath } from '../util/assets.js';

/** The version recorded in every manifest and first-boot script. */
export const OBSBUILD_VERSION = (
  JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string }
).version;

import { UsageError, UserError } from '../util/errors.js';
import { KEEPALIVED_115_SOURCE_ENV, keepalived115RecipeHash, keepalived115SourcePath, verifyKeepalived115Source } from './keepalived115.js';
import type { RecipeKeepalived } from './recipe.js';

/**
 * Which keepalived the virtual board runs: 1.1.15 (the box's) built from its source, or Debian's 2.x.
 * The default is 1.1.15 whenever its source is named, since reload and parsing differ between the two.
 */
export const KEEPALIVED_CHOICES = ['1.1.15', 'debian'] as const;
export type KeepalivedChoiceName = (typeof KEEPALIVED_CHOICES)[number];

export interface KeepalivedChoice {
  recipe: RecipeKeepalived;
  /** The source tarball, for 1.1.15. */
  source?: string;
  /** One line saying which keepalived and why. */
  notice: string;
}

export async function chooseKeepalived(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<KeepalivedChoice> {
  if (option !== undefined && !(KEEPALIVED_CHOICES as readonly string[]).includes(option)) {
    throw new UsageError(`--keepalived ${JSON.stringify(option.slice(0, 40))}: expected ${KEEPALIVED_CHOICES.join(' or ')}`);
  }
  const source = keepalived115SourcePath(undefined, env);
  const name: KeepalivedChoiceName = (option as KeepalivedChoiceName | undefined) ?? (source ? '1.1.15' : 'debian');
  if (name === 'debian') {
    return {
      recipe: { kind: 'debian' },
      notice: source
        ? "keepalived: Debian's 2.x (--keepalived debian); the box runs 1.1.15"
        : `keepalived: Debian's 2.x; the box runs 1.1.15: name its source in ${KEEPALIVED_115_SOURCE_ENV} to run that on the virtual board`,
    };
  }
  if (!source) throw new UserError(`--keepalived 1.1.15: name keepalived-1.1.15.tar.gz in ${KEEPALIVED_115_SOURCE_ENV}`, { code: 'usage' });
  const sourceSha256 = await verifyKeepalived115Source(source);
  return {
    recipe: { kind: '1.1.15', sourceSha256, packageRecipeHash: keepalived115RecipeHash() },
    source,
    notice: `keepalived: 1.1.15 as on the box, built from ${source}${option ? '' : ' (--keepalived debian for Debian\'s 2.x)'}`,
  };
}

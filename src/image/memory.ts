import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeping the build's peak memory flat whatever the rootfs size (the target: under 150 MB).
 *
 * Streaming a large tarball leaves spent read and inflate buffers behind (external memory, outside the
 * JS heap); V8 collects them only once tens of MB have piled up, so the resident size of a build would
 * otherwise grow with the rootfs. A full collection with a small heap costs a few milliseconds, so the
 * pipeline runs one between steps and every few MB during long streaming steps.
 */
const gc: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

export function collectGarbage(): void {
  gc?.();
}

/** A progress hook that collects garbage every `stride` bytes of streamed input. */
export function collectEvery(stride = 4 << 20): (done: number) => void {
  let last = 0;
  return (done) => {
    if (done - last >= stride || done < last) {
      last = done;
      gc?.();
    }
  };
}

import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeping the build's peak memory flat whatever the rootfs size (the target: under 150 MB).
 *
 * Streaming a large tarball leaves spent read and inflate buffers behind (external memory, outside the
 * JS heap); V8 collects them only once tens of MB have piled up, so the resident size of a build would
 * otherwise grow with the rootfs. A full collection with a small heap costs a few milliseconds, so the
 * build runs one between steps and every few MB during long streaming steps, when it is given a collector.
 * Getting one changes a V8 flag for the whole process, so it is the command's decision, not an import's.
 */
export type Collector = () => void;

/** V8's gc(), after turning on --expose-gc at run time; undefined where V8 does not allow it. */
export function exposeGc(): Collector | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Collector;
  } catch {
    return undefined;
  }
}

/** A progress hook that calls `collect` every `stride` bytes of streamed input. */
export function collectEvery(collect: Collector | undefined, stride = 4 << 20): (done: number) => void {
  let last = 0;
  return (done) => {
    if (done - last >= stride || done < last) {
      last = done;
      collect?.();
    }
  };
}

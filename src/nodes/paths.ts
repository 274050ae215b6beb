/**
 * Path helpers shared by the providers and the cluster layer.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';

/** The real path (symlinks resolved), or the absolute path itself when it does not exist. */
export async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return path.resolve(p);
    throw err;
  }
}

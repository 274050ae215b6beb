/**
 * Small file-system helpers shared by the providers and the cluster layer: a missing file
 * or dir is an answer (undefined, false, []), any other error is thrown.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The real path (symlinks resolved), or the absolute path itself when it does not exist. */
export async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    if (isMissing(err)) return path.resolve(p);
    throw err;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** The names in a dir; [] when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/** A text file's content; undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

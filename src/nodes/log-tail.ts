/** The last lines of a node's log file, for start-failure messages. */
import { open } from 'node:fs/promises';

const TAIL_BYTES = 8192;

/** Up to `lines` last lines of `file`; '' when the file does not exist. */
export async function tailFile(file: string, lines = 15): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const text = buf.toString('utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}

/**
 * Artifacts of jobs in a directory every worker sees (a shared mount or a synced bucket path),
 * named by the SHA-256 of their bytes: writing the same artifact twice writes one file, and a
 * reader can check what it got. Written to a temporary name and renamed, so a killed worker
 * leaves no half-written artifact under a real name.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Stores `bytes` under `dir` as `<sha256><ext>`; returns its path and hash. */
export function putArtifact(dir: string, bytes: string | Uint8Array, ext = ''): { path: string; sha256: string } {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${sha256}${ext}`);
  if (!existsSync(path)) {
    const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  }
  return { path, sha256 };
}

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex digest of a file, streamed (the CIFAR archives are 160 MB). */
export async function fileDigest(path: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function bytesDigest(bytes: Uint8Array, algorithm: 'md5' | 'sha256'): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

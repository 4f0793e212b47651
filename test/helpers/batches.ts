import type { Batch } from '../../src/data/loader.js';

/** Every batch of a source, in order. */
export async function collect(batches: AsyncIterable<Batch> | Iterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of batches) out.push(b);
  return out;
}

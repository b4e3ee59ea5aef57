import type { BlobLocation } from '../../src/protocol/manifest.ts';
import type { ServiceDeps } from './service-deps.ts';

const batchSize = 500;

/** Returns the hashes that the company's bucket does not hold yet. */
export async function missingBlobs(deps: ServiceDeps, companyId: number, hashes: string[]): Promise<string[]> {
  const unique = [...new Set(hashes)];
  const present = new Set<string>();
  for (let start = 0; start < unique.length; start += batchSize) {
    const rows = await deps.db
      .selectFrom('blobs')
      .select('hash')
      .where('company_id', '=', companyId)
      .where('hash', 'in', unique.slice(start, start + batchSize))
      .execute();
    for (const row of rows) present.add(row.hash);
  }
  return unique.filter((hash) => !present.has(hash));
}

/** Records where the company's bucket stores each content, in one transaction. */
export async function recordBlobs(deps: ServiceDeps, companyId: number, blobs: BlobLocation[]): Promise<void> {
  if (blobs.length === 0) return;
  await deps.db.transaction().execute(async (trx) => {
    for (let start = 0; start < blobs.length; start += batchSize) {
      const batch = blobs.slice(start, start + batchSize);
      await trx
        .insertInto('blobs')
        .values(batch.map((blob) => ({ company_id: companyId, hash: blob.hash, object_key: blob.key, offset: blob.offset, length: blob.length })))
        .onConflict((conflict) => conflict.doNothing())
        .execute();
    }
  });
}

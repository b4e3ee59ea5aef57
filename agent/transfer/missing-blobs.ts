import type { CoordinatorClient } from '../coordinator-client.ts';

/** Maximum hashes per `POST /agent/blobs/missing` request. */
export const maxHashesPerMissingRequest = 5000;

/** Returns which of `hashes` the company's bucket lacks, asking in batches of at most 5000. */
export async function findMissingBlobs(
  client: CoordinatorClient,
  hashes: Iterable<string>,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const unique = [...new Set(hashes)];
  const missing = new Set<string>();
  for (let start = 0; start < unique.length; start += maxHashesPerMissingRequest) {
    const chunk = unique.slice(start, start + maxHashesPerMissingRequest);
    const answer = await client.post<{ missing: string[] }>(
      '/agent/blobs/missing',
      { hashes: chunk },
      { idempotent: true, signal },
    );
    for (const hash of answer.missing) missing.add(hash);
  }
  return missing;
}

import type { ReportChangesInput } from '../../src/protocol/agent-api.ts';

/** One path to examine at the next backup run, as `POST /agent/changes` takes it. */
export type PathChange = ReportChangesInput['changes'][number];

export type ChangeKind = PathChange['kind'];

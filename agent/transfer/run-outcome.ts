import type { AgentContext } from '../agent-context.ts';
import { describeError } from '../fs-error-code.ts';

/** Maximum warnings sent with one commit; the rest are counted in a last line. */
const maxWarnings = 1000;

/** Maximum length of a failure message that `POST /agent/runs/:id/fail` accepts. */
const maxFailureMessageLength = 4000;

/** Returns at most 1000 warnings, the last of them saying how many were left out. */
export function limitWarnings(warnings: readonly string[]): string[] {
  if (warnings.length <= maxWarnings) return [...warnings];
  const kept = warnings.slice(0, maxWarnings - 1);
  kept.push(`${warnings.length - kept.length} more warnings were left out.`);
  return kept;
}

/**
 * Marks a run failed on the coordinator, with the error's message or, when `signal` aborted, a
 * message saying the agent stopped. A failure to mark it is logged, because the run ends anyway.
 */
export async function failRun(
  context: AgentContext,
  runId: number,
  error: unknown,
  signal: AbortSignal,
): Promise<void> {
  const reason = signal.aborted
    ? 'The agent stopped before the run finished.'
    : describeError(error);
  const message = reason.slice(0, maxFailureMessageLength) || 'The agent failed the run.';
  try {
    await context.client.post(`/agent/runs/${runId}/fail`, { message }, { idempotent: true });
  } catch (failError) {
    context.logger.error(
      { runId, err: failError },
      'marking the run failed on the coordinator failed',
    );
  }
}

import os from 'node:os';
import path from 'node:path';
import { startAgent } from '../../../agent/start-agent.ts';
import { createLogger } from '../../logger.ts';
import { configDir } from '../credentials.ts';
import { waitForStopSignal } from '../stop-signal.ts';

export interface AgentStartOptions {
  installer?: string;
  stateDir?: string;
  name?: string;
}

/** Runs the agent in the foreground until SIGINT or SIGTERM. */
export async function agentStart(options: AgentStartOptions): Promise<void> {
  const logger = createLogger('agent');
  const agent = await startAgent({
    installerPath: options.installer ? path.resolve(options.installer) : undefined,
    stateDir: path.resolve(options.stateDir ?? process.env.SYNCCTL_AGENT_STATE_DIR ?? path.join(configDir(), 'agent')),
    name: options.name ?? os.hostname(),
    logger,
  });

  const signal = await waitForStopSignal();
  logger.info({ signal, resourceId: agent.resourceId }, 'stopping agent');
  await agent.stop();
}

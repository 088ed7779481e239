/** Agents: the ReAct runtime over typed tools, the rule layer, step rewards, MACRec's roles and tasks. */
export * from './tools.ts';
export * from './verify.ts';
export * from './trajectory.ts';
export * from './rewards.ts';
export * from './runtime.ts';
export * from './reclab-tools.ts';
export * from './tasks.ts';
export * from './macrec.ts';
export * from './chat.ts';

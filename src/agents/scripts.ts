/**
 * Scripted agents for dry runs and CLI tests (`--llm scripted:<name>`). They act on the request's
 * structured `meta` (role, task, step, tools, candidates), never on the prompt, and are never sent
 * to a real model.
 *
 * | name | behaviour |
 * |---|---|
 * | `agent-shown-order` | Manager: analyses the user (delegating when it can, else `user_history`), then finishes with the candidates in the order shown / rating 4 / a fixed explanation. Analysts and the searcher finish at once. Reflector: always "correct". |
 * | `chat-mixed` | Chat model: each turn names Toy Story, Heat (real ML-100K titles) and one invented title. |
 */
import { registerScript } from '../llm/index.ts';

interface AgentMeta {
  kind: 'agent' | 'reflect';
  role?: string;
  task?: string;
  step?: number;
  tools?: string[];
  user?: string;
  candidates?: string[];
}

registerScript('agent-shown-order', 'agent that looks at the user once, then answers with the candidates as shown (rating 4, a fixed explanation)', (request) => {
  const m = (request.meta ?? {}) as unknown as AgentMeta;
  if (m.kind === 'reflect') return { correctness: true, reason: 'the answer is well formed' };
  if (m.role !== 'manager') return { thought: 'summarise', tool: 'finish', args: { answer: `${m.role ?? 'analyst'}: no strong preference found` } };
  if (m.step === 1 && m.user !== undefined) {
    const tool = m.tools?.includes('analyse_user') ? 'analyse_user' : 'user_history';
    return { thought: 'First look at the user.', tool, args: { user_id: m.user } };
  }
  const answer = m.task === 'rerank' ? (m.candidates ?? []) : m.task === 'rating' ? 4 : 'The user rated several similar films highly.';
  return { thought: 'Answer now.', tool: 'finish', args: { answer } };
});

registerScript('chat-mixed', 'chat model naming two real ML-100K titles and one invented title per turn', () => ({
  reply: 'You could try Toy Story, Heat or The Moonlit Pickle Factory.',
  titles: ['Toy Story', 'Heat', 'The Moonlit Pickle Factory'],
}));

/**
 * `reclab law …`: performance laws. `llm` is the LLM Performance Law calculator; `fit`, `predict`,
 * `sweep` and `quality` work on sequential-recommendation sweeps (see docs/laws.md).
 */
import type { Command } from 'commander';
import { llmPerformanceLaw } from '../../laws/llm.ts';

/** Parses a CLI number option, naming the flag on error. */
function num(flag: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (value.trim() === '' || !Number.isFinite(x)) throw new Error(`--${flag}: expected a number, got "${value}"`);
    return x;
  };
}

/** Rounds to `d` decimals for display (JSON numbers people compare by eye). */
function round(x: number, d: number): number {
  return Number(x.toFixed(d));
}

/** Registers `reclab law` and its sub-verbs. */
export function register(program: Command): void {
  const law = program.command('law').description('performance laws: fit, predict and plan model sizes before training');

  law
    .command('llm')
    .description('LLM Performance Law (arXiv 2408.09895): predicted MMLU of a dense LLM from its shape and training tokens')
    .requiredOption('--layers <N>', 'number of layers N', num('layers'))
    .requiredOption('--hidden <h>', 'hidden size h', num('hidden'))
    .requiredOption('--ffn <d>', 'FFN intermediate size d', num('ffn'))
    .requiredOption('--tokens <T>', 'training tokens, in trillions', num('tokens'))
    .requiredOption('--params <S>', 'model size, in billions of parameters', num('params'))
    .option('--gamma <γ>', 'precision-loss factor', num('gamma'), 1)
    .option('--json', 'print one JSON object')
    .action((o: { layers: number; hidden: number; ffn: number; tokens: number; params: number; gamma: number; json?: boolean }) => {
      const p = llmPerformanceLaw({ layers: o.layers, hidden: o.hidden, ffn: o.ffn, tokensT: o.tokens, paramsB: o.params, gamma: o.gamma });
      if (o.json) {
        const out = {
          mmlu: round(p.mmlu, 2),
          mmlu_raw: p.mmluRaw,
          theta: p.theta,
          effective_tokens_t: p.effectiveTokensT,
          inputs: { layers: o.layers, hidden: o.hidden, ffn: o.ffn, tokens_t: o.tokens, params_b: o.params, gamma: o.gamma },
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(
          `predicted MMLU: ${p.mmlu.toFixed(2)} %\n` +
            `  θ (instability discount) = ${p.theta.toFixed(6)}, T′ = min(T, S) = ${p.effectiveTokensT} T tokens` +
            `${p.mmluRaw !== p.mmlu ? `, raw law value ${p.mmluRaw.toFixed(2)} (clipped)` : ''}\n`,
        );
      }
    });
}

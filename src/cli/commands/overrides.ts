/**
 * The one override syntax of the CLI: `--key=value`, a dotted path into the experiment file (or
 * the model config, or the sweep file) and a YAML value (`--seeds=[0,1]`,
 * `--models.0.config.epochs=20`, `--protocol=pop100`). Commands take them as trailing arguments;
 * this checks their shape and strips the dashes, and the command applies them
 * (src/eval/config.ts `applyOverrides`) before validating.
 */
import { applyOverrides } from '../../eval/config.ts';

/**
 * Checks that every argument looks like `--key=value` and returns them as `key=value`; anything
 * else is an error naming it (a stray word is a typo, not something to ignore). The old spelling
 * `--set key=value` (train, law sweep) is still read, with a note on `warn`, so that scripts
 * written for it keep working while the docs show one syntax.
 */
export function splitOverrides(args: readonly string[], warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string[] {
  const out: string[] = [];
  const stray: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const set = a === '--set' ? args[++i] : a.startsWith('--set=') ? a.slice(6) : undefined;
    if (set !== undefined) {
      if (!/^[^=\s-][^=\s]*=/.test(set)) stray.push(`${a} ${set}`);
      else {
        warn(`note: --set ${set} is the old spelling of --${set}`);
        out.push(set);
      }
    } else if (/^--[^=\s-][^=\s]*=/.test(a)) out.push(a.slice(2));
    else stray.push(a);
  }
  if (stray.length) throw new Error(`unexpected argument(s) ${stray.join(' ')}: overrides look like --key=value (dotted keys, YAML values)`);
  return out;
}

/** A flat or nested config built from `key=value` overrides alone (e.g. a model's hyperparameters). */
export function overridesToConfig(overrides: readonly string[]): Record<string, unknown> {
  return applyOverrides({}, overrides, '<command line>');
}

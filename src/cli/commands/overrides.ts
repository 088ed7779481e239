/**
 * The one override syntax of the CLI: `--key=value`, a dotted path into the experiment file (or
 * the model config) and a YAML value (`--seeds=[0,1]`, `--models.0.config.epochs=20`,
 * `--protocol=pop100`). Commands take them as trailing arguments; this checks their shape and
 * strips the dashes, and src/eval/config.ts applies them.
 */

/**
 * Checks that every argument looks like `--key=value` and returns them as `key=value`; anything
 * else is an error naming it (a stray word is a typo, not something to ignore).
 */
export function splitOverrides(args: readonly string[]): string[] {
  const stray = args.filter((a) => !/^--[^=\s-][^=\s]*=/.test(a));
  if (stray.length) throw new Error(`unexpected argument(s) ${stray.join(' ')}: overrides look like --key=value (dotted keys, YAML values)`);
  return args.map((a) => a.slice(2));
}

/** Types of eslint/layers.js (the layering rule), for the tests that import it. */
export declare const LAYERS: readonly string[];
export declare function layerOf(srcRoot: string, file: string): string | null;
export declare function violation(from: string, to: string | null): string | null;
declare const plugin: { rules: Record<string, unknown> };
export default plugin;

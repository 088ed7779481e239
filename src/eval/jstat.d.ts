/** jstat ships no types; significance.ts types the few functions it uses. */
declare module 'jstat';

// Moved to src/kernels/engine.ts (the one kernel core); this re-export keeps in-flight imports working until they move.
export * from '../kernels/engine.ts';

/**
 * Selection on validation, the one way: the best validation value so far, its epoch and (when
 * the model can snapshot) its state, and patience for early stopping. The runner stops early and
 * restores the best state, the law sweep restores it without stopping, the tracer only records
 * the best epoch in its lines — all three by this rule: a value counts as better only when it is
 * strictly greater (the earlier epoch wins ties), and NaN is never better.
 */
export class BestOnValidation<S = unknown> {
  /** Best validation value so far (−∞ before any). */
  best = -Infinity;
  /** Epoch of {@link best} (0 before any). */
  bestEpoch = 0;
  /** Snapshot taken at the best epoch (undefined without a snapshot function or before any). */
  state: S | undefined;
  /** Validations in a row without improvement. */
  private bad = 0;

  /**
   * @param patience validations without improvement before {@link update} says stop (default never)
   * @param snapshot takes the model's state at a new best epoch
   */
  constructor(
    private readonly patience = Infinity,
    private readonly snapshot?: () => S | undefined,
  ) {}

  /** Starts from a best value and epoch found earlier (a resumed run). */
  resume(best: number, bestEpoch: number): this {
    this.best = best;
    this.bestEpoch = bestEpoch;
    return this;
  }

  /** Records the validation value of `epoch`; true when patience is spent and training should stop. */
  update(epoch: number, value: number): boolean {
    if (value > this.best) {
      this.best = value;
      this.bestEpoch = epoch;
      this.bad = 0;
      this.state = this.snapshot?.();
      return false;
    }
    return ++this.bad >= this.patience;
  }
}

// Learning-rate schedules. Pure functions of the step (or a small serialisable state) so
// resume lands on exactly the same learning rate.

/** diffusers get_cosine_schedule_with_warmup: linear 0 -> base over warm-up, then half-cosine to 0 (docs/REFERENCE.md §5.4). */
export function cosineWithWarmup(step: number, totalSteps: number, warmupSteps: number, baseLr: number): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps)
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps)
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))))
}

export interface PlateauState {
  lr: number
  best: number
  badEpochs: number
  cooldown: number
}

/** torch ReduceLROnPlateau (threshold 1e-4 rel, cooldown 0, min_lr 0), mode max or min. */
export class ReduceLROnPlateau {
  private state: PlateauState
  constructor(
    lr: number,
    readonly mode: 'max' | 'min' = 'max',
    readonly factor = 0.1,
    readonly patience = 5,
    readonly threshold = 1e-4
  ) {
    this.state = {lr, best: mode === 'max' ? -Infinity : Infinity, badEpochs: 0, cooldown: 0}
  }

  get lr(): number {
    return this.state.lr
  }

  /** Feeds one validation value; returns the learning rate to use next. */
  observe(value: number): number {
    const s = this.state
    const better = this.mode === 'max' ? value > s.best * (1 + this.threshold) : value < s.best * (1 - this.threshold)
    if (better) {
      s.best = value
      s.badEpochs = 0
    } else s.badEpochs += 1
    if (s.badEpochs > this.patience) {
      s.lr *= this.factor
      s.badEpochs = 0
    }
    return s.lr
  }

  getState(): PlateauState {
    return {...this.state}
  }
  setState(state: PlateauState): void {
    this.state = {...state}
  }
}

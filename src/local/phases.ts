/**
 * Where the time of `up --local` goes, phase by phase: printed under --verbose (one line per
 * phase as it ends, and a summary at the listening line), the total always.
 */
import { out } from '../ui/output.js';

export interface PhaseTime {
  name: string;
  ms: number;
}

export class PhaseClock {
  readonly phases: PhaseTime[] = [];
  private last: number;

  /** `startedAt`: when the command started (the process start, not this object's creation). */
  constructor(readonly startedAt: number = Date.now() - process.uptime() * 1000) {
    this.last = this.startedAt;
  }

  /** Ends the current phase under this name. */
  mark(name: string): void {
    const now = Date.now();
    this.phases.push({ name, ms: now - this.last });
    out.verbose(`phase ${name}: ${seconds(now - this.last)}`);
    this.last = now;
  }

  totalMs(now = Date.now()): number {
    return now - this.startedAt;
  }

  /** "startup 0.4 s · engine 1.2 s · image 0.3 s · …" */
  summary(): string {
    return this.phases.map((p) => `${p.name} ${seconds(p.ms)}`).join(' · ');
  }
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

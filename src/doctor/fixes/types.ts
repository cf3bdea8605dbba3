/** doctor --fix's model: a fix turns the failing checks of one kind into a plan, shown before it runs. */
import type { FlyClient } from '../../fly/client.js';
import type { CheckId, Evidence, FixKind } from '../types.js';

export interface FixPlan {
  kind: FixKind;
  checks: CheckId[];
  /** What will happen, one line per action (shown before asking). */
  steps: string[];
  /** Why it cannot be done automatically (then steps are not run). */
  blocked?: string;
  apply(client: FlyClient, progress: (text: string) => void): Promise<void>;
}

/** One kind of repair: a pure function of the evidence, like a check (see ../checks/). */
export interface Fix {
  kind: FixKind;
  plan(checks: CheckId[], ev: Evidence): FixPlan;
}

import { type IpSubnet, subnetsOverlap } from './ip.js';
import { type TimeRange, rangesOverlap } from './time.js';

/** What the non-overlap rule looks at: one owner per address per instant. */
export interface Holding {
  subnet: IpSubnet;
  period: TimeRange;
}

export function holdingsConflict(a: Holding, b: Holding): boolean {
  return subnetsOverlap(a.subnet, b.subnet) && rangesOverlap(a.period, b.period);
}

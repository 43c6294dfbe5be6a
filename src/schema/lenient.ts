import { InvalidValueError } from '../domain/invalid-value.js';
import { checkField } from '../errors.js';

/**
 * A value of an input scalar that broke its rule. The fields of mutation input objects and of
 * whoHadMany's lookups take their values through lenient scalars (IPAddressInput, IPSubnetInput, UnixTimeInput in scalars.ts), so that one bad value is answered where it stands
 * (a ValidationError naming the field, an error at the lookup's index) instead of refusing the
 * whole request during variable coercion. Arguments keep the strict scalars: a client declares
 * their variables with those types, and a bad variable is the request's error.
 */
export class RejectedValue {
  constructor(readonly reason: string) {}
}

/** What a lenient scalar gives a resolver: the checked value, or why it was refused. */
export type Lenient<T> = T | RejectedValue;

/**
 * The value of a lenient input field, or a ValidationError naming the field: the one place a
 * refused value becomes a mutation's typed failure.
 */
export function accepted<T>(field: string, value: Lenient<T>): T {
  return checkField(field, () => {
    if (value instanceof RejectedValue) throw new InvalidValueError(value.reason);
    return value;
  });
}

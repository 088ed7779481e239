import { describe, expect, it } from 'vitest';
import { IdMap } from '../data/types.ts';
import { userDemographics } from './demographics.ts';

describe('userDemographics', () => {
  it('formats token and float columns, skips zip codes and missing values', () => {
    const occupation = IdMap.fromRaw(['technician', 'writer']);
    const zip = IdMap.fromRaw(['85711']);
    const side = {
      n: 2,
      columns: {
        age: { type: 'float' as const, values: Float64Array.from([24, NaN]) },
        occupation: { type: 'token' as const, values: Int32Array.from([0, -1]), vocab: occupation },
        zip: { type: 'token' as const, values: Int32Array.from([0, 0]), vocab: zip },
      },
    };
    expect(userDemographics({ userSide: side }, 0)).toBe('age 24, occupation technician');
    expect(userDemographics({ userSide: side }, 1)).toBeUndefined();
    expect(userDemographics({}, 0)).toBeUndefined();
  });
});

import type { FamilyOutput, MappingContext } from '../context.js';
import { asArray, asDateTime, asId, asNumber, asRecord, asText, at, type JsonRecord } from '../values.js';

/** Rewards and coupons: rewardIssued, rewardUpdated, CouponIssue, CouponRedeem, promotionIssued. */
export function mapRewards(ctx: MappingContext): FamilyOutput {
  const { data, eventName } = ctx;
  switch (eventName) {
    case 'CouponIssue':
    case 'CouponRedeem':
      return mapCoupons(data, eventName === 'CouponRedeem');
    case 'promotionIssued':
      return { capillary: { promotion: promotionOf(data) } };
    default:
      return { capillary: { reward: rewardOf(data) } };
  }
}

function rewardOf(data: JsonRecord): JsonRecord {
  const details = asRecord(data['intouchRewardDetails']);
  return {
    id: asId(data['rewardId']),
    type: asText(data['type']),
    redemptionType: asText(data['redemptionType']),
    startDate: asDateTime(data['startDate']),
    endDate: asDateTime(data['endDate']),
    points: asNumber(data['intouchPoints']),
    tier: asText(data['tier']),
    seriesId: asId(data['intouchSeriesId']),
    couponCode: asText(details?.['intouchCouponCode']),
    codeExpiry: asDateTime(details?.['codeExpiry']),
  };
}

function promotionOf(data: JsonRecord): JsonRecord {
  return {
    id: asId(data['promotionId']),
    name: asText(data['promotionName']),
    type: asText(data['pointsOfferType']),
    startDate: asDateTime(data['promotionStartDate']),
    endDate: asDateTime(data['promotionEndDate']),
    issuedDate: asDateTime(data['promotionIssuedDate']),
    expiryDate: asDateTime(data['promotionIssuedExpiryDate']),
    issualId: asId(data['issualId']),
  };
}

interface Coupon {
  id?: string | undefined;
  code?: string | undefined;
  seriesId?: string | undefined;
  seriesName?: string | undefined;
  validTill?: string | undefined;
  issuedOn?: string | undefined;
  redemptionId?: string | undefined;
  redeemedAt?: string | undefined;
  billNumber?: string | undefined;
}

/** `coupons: [ ... ]` (issue) or `coupon: { ... }` (redeem); the series on the coupon or beside it. */
function mapCoupons(data: JsonRecord, redeemed: boolean): FamilyOutput {
  const sharedSeries = asRecord(data['series_info']);
  const billNumber = redeemed ? asId(at(data, 'transaction', 'number')) : undefined;
  const coupons: Coupon[] = [...asArray(data['coupons']), data['coupon']]
    .map((item) => asRecord(item))
    .filter((item): item is JsonRecord => item !== undefined)
    .map((coupon) => {
      const series = asRecord(coupon['series_info']) ?? sharedSeries;
      return {
        id: asId(coupon['id']),
        code: asText(coupon['code']),
        seriesId: asId(series?.['id']),
        seriesName: asText(series?.['description']),
        validTill: asDateTime(coupon['valid_till']),
        issuedOn: asDateTime(coupon['issued_on']),
        redemptionId: asId(coupon['redemptionId']),
        redeemedAt: asDateTime(coupon['redemptionDate']),
        billNumber,
      };
    });

  return {
    loyalty: redeemed
      ? {
          couponRedemption: coupons
            .filter((coupon) => coupon.id !== undefined || coupon.seriesId !== undefined)
            .map((coupon) => ({ id: coupon.id, series: coupon.seriesId, seriesName: coupon.seriesName })),
        }
      : undefined,
    capillary: { coupons },
  };
}

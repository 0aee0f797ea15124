import { customerIdOf } from '../identities.js';
import { activityOf, type FamilyOutput, type MappingContext } from '../context.js';
import { asArray, asBoolean, asDateTime, asId, asNumber, asRecord, asText, at, type JsonRecord } from '../values.js';

/**
 * Points events: pointsIssued, pointsRedeemed, pointsExpired, pointsExpiryReminder, pointsExpiryChange,
 * singlePointsExpiryUpdated, promisedToCurrentPointsConversion, pointsTransferredInitiated,
 * pointsTransferredReceived, redeemedPointsReversed, issuedPointsReversed, pointsContributionToGroup,
 * manualPointsAdjustment. Fields Capillary documents for one of them are read on all of them: a field
 * that is absent is simply left out.
 */
export function mapPoints(ctx: MappingContext): FamilyOutput {
  const { data, eventName, program } = ctx;
  const current = asNumber(data['programCurrentPoints']) ?? currentPointsFromPrograms(data, program.id);
  const lifetime = asNumber(data['programLifetimePoints']);
  const issued = asNumber(data['totalPointsIssued']);
  const redeemed = asNumber(data['totalPointsRedeemed']);
  const expired = asNumber(data['pointsExpired']);
  const scheduledForExpiry = asNumber(data['pointsScheduledForExpiry']);
  const scheduledExpiryDate = asDateTime(data['scheduledExpiryDate']);
  const redemptionBillNumber = asId(data['redemptionBillNumber']);
  const promotions = promotionsOf(data['promotionalPointsIssued']);
  const transferCounterpart =
    asRecord(data['transferReceivingCustomerIdentifiers']) ?? asRecord(data['transferInitiatingCustomerIdentifiers']);

  const capillary: JsonRecord = {
    points: {
      current,
      lifetime,
      issued,
      regularIssued: asNumber(data['regularPointsIssued']),
      promotionalIssued: sum(promotions.map((promotion) => promotion.points)),
      promisedIssued: sum(asArray(data['promisedPointsIssued']).map((item) => asNumber(at(item, 'promisedPoints')))),
      redeemed,
      redeemedCurrencyValue: asNumber(data['redeemedPointsCurrencyValue']),
      redemptionSummaryId: asId(data['redemptionSummaryId']),
      redemptionBillNumber,
      groupRedemption: asBoolean(data['isGroupRedemption']),
      expired,
      scheduledForExpiry,
      scheduledExpiryDate,
      reversed: asNumber(data['totalIssuedPointsReversed']) ?? asNumber(data['redeemedPointsReversed']),
      converted: asNumber(data['pointsConverted']),
      transferred: asNumber(data['totalPointsTransferred']),
      transferCounterpartCustomerId:
        transferCounterpart === undefined ? undefined : customerIdOf(transferCounterpart, {}),
      contributedToGroup: asNumber(data['pointsContributedToGroup']),
      groupId: asId(data['groupId']),
      groupName: asText(data['groupName']),
    },
  };

  const loyalty: JsonRecord = {};
  if (eventName === 'pointsIssued' && issued !== undefined) {
    const transactionId = activityOf(data).billNumber ?? activityOf(data).billId;
    loyalty['pointsGained'] = [
      { value: issued, loyaltyProgramId: program.id, transactionId },
      // One entry per promotion too, told apart by promotionId (the first entry is the total).
      ...promotions
        .filter((promotion) => promotion.points !== undefined)
        .map((promotion) => ({
          value: promotion.points,
          loyaltyProgramId: program.id,
          transactionId,
          promotionId: promotion.id,
        })),
    ];
  }
  if (eventName === 'pointsRedeemed' && redeemed !== undefined) {
    loyalty['pointsRedemption'] = [{ value: redeemed, loyaltyProgramId: program.id, transactionId: redemptionBillNumber }];
  }

  return {
    loyalty,
    capillary,
    profile: {
      loyalty: {
        points: current,
        lifetimePoints: lifetime,
        // Capillary sends no running totals: these are the amounts of the latest such event.
        pointsRedeemed: eventName === 'pointsRedeemed' ? redeemed : undefined,
        expiredPoints: eventName === 'pointsExpired' ? expired : undefined,
        pointsExpiration:
          scheduledForExpiry !== undefined || scheduledExpiryDate !== undefined
            ? [{ pointsExpiring: scheduledForExpiry, pointsExpirationDate: scheduledExpiryDate }]
            : undefined,
      },
      capillary: { points: { current, lifetime } },
    },
  };
}

/**
 * The balance after a redemption, transfer or reversal, which Capillary reports per earning program
 * (`redemptionFromEarningPrograms[]` / `redemptionReversalToEarningPrograms[]`): the entry for this
 * event's program, or the only entry when the event names no program.
 */
function currentPointsFromPrograms(data: JsonRecord, programId: string | undefined): number | undefined {
  const entries = [
    ...asArray(data['redemptionFromEarningPrograms']),
    ...asArray(data['redemptionReversalToEarningPrograms']),
  ].filter((entry) => asRecord(entry) !== undefined);
  const match =
    programId === undefined
      ? entries.length === 1
        ? entries[0]
        : undefined
      : entries.find((entry) => asId(at(entry, 'programId')) === programId);
  return asNumber(at(match, 'programCurrentPoints'));
}

function promotionsOf(value: unknown): Array<{ id: string | undefined; points: number | undefined }> {
  return asArray(value)
    .filter((item) => asRecord(item) !== undefined)
    .map((item) => ({
      id: asId(at(item, 'promotionIdentifier')) ?? asText(at(item, 'promotionName')),
      points: asNumber(at(item, 'promotionPoints')),
    }));
}

function sum(values: ReadonlyArray<number | undefined>): number | undefined {
  const numbers = values.filter((value): value is number => value !== undefined);
  return numbers.length === 0 ? undefined : numbers.reduce((total, value) => total + value, 0);
}

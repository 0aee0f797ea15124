import { nextTierOf, tierOf, type FamilyOutput, type MappingContext } from '../context.js';
import { asDateTime, asText } from '../values.js';

/**
 * Tier events: tierUpgraded, tierRenewed, tierDowngraded, tierDowngradeReminder. They carry tier
 * numbers only; names come from the program's tier list.
 */
export function mapTiers(ctx: MappingContext): FamilyOutput {
  const { data, eventName, program } = ctx;
  const tier = tierOf(program, data['upgradedTierNumber'] ?? data['downgradedTierNumber'] ?? data['currentTierNumber']);
  const previous = tierOf(program, data['previousTierNumber']);
  const expiryDate = asDateTime(data['tierExpiryDate']);

  return {
    capillary: {
      tier: {
        number: tier.number,
        name: tier.name,
        previousNumber: previous.number,
        previousName: previous.name,
        expiryDate,
        changeType: asText(data['upgradeType']) ?? asText(data['renewType']) ?? asText(data['downgradeType']),
        scheduledDowngradeDate: asDateTime(data['scheduledDowngradeDate']),
        notes: asText(data['notes']),
      },
    },
    profile: {
      loyalty: {
        tier: tier.name,
        nextTier: nextTierOf(program, tier.number),
        tierExpiryDate: expiryDate,
        tierUpgradeDate: eventName === 'tierUpgraded' ? ctx.timestamp : undefined,
      },
      capillary: { tier: { number: tier.number, name: tier.name } },
    },
  };
}

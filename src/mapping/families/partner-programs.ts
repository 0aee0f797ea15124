import type { FamilyOutput, MappingContext } from '../context.js';
import { asDateTime, asId, asNumber, asRecord, asText } from '../values.js';

/**
 * Partner program events: partnerProgramLinked, partnerProgramUpdated, partnerProgramDelinked,
 * supplementaryMembershipExpiryReminder. Partner programs live outside Capillary; XDM has no field
 * for them, so their details stay in the tenant object. The member's own loyalty program still
 * goes to the Profile record.
 */
export function mapPartnerPrograms(ctx: MappingContext): FamilyOutput {
  const { data } = ctx;
  const details = asRecord(data['customerPartnerProgramDetails']);
  return {
    capillary: {
      partnerProgram: {
        id: asId(data['partnerProgramId']),
        name: asText(data['partnerProgramName']),
        type: asText(data['partnerProgramType']),
        updateType: asText(data['updateType']),
        tierNumber: asNumber(details?.['partnerTierNumber']),
        // The millisecond form is the one Capillary added after standardising time zones.
        tierExpiryDate:
          asDateTime(details?.['partnerTierExpiryDateInMillis']) ?? asDateTime(details?.['partnerTierExpiryDate']),
        membershipNumber: asText(details?.['membershipNumber']),
        membershipExpiryDate: asDateTime(details?.['membershipExpiryDate']) ?? asDateTime(data['scheduledExpiryDate']),
      },
    },
    profile: { loyalty: {} },
  };
}

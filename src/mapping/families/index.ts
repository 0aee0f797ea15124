import type { FamilyOutput, MappingContext } from '../context.js';
import type { EventFamily } from '../event-families.js';
import { mapCustomers } from './customers.js';
import { mapPartnerPrograms } from './partner-programs.js';
import { mapPoints } from './points.js';
import { mapRewards } from './rewards.js';
import { mapTiers } from './tiers.js';
import { mapTransactions } from './transactions.js';

export const FAMILY_MAPPERS: Readonly<Record<EventFamily, (ctx: MappingContext) => FamilyOutput>> = {
  points: mapPoints,
  tiers: mapTiers,
  rewards: mapRewards,
  transactions: mapTransactions,
  customers: mapCustomers,
  partnerPrograms: mapPartnerPrograms,
};

"""CrossGuard entry point: `pulumi preview --policy-pack <path to this folder>` (needs hainfra installed)."""

from pulumi_policy import PolicyPack

from hainfra.policy.crossguard import policies

PolicyPack(name="hainfra", policies=policies())

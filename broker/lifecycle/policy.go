package lifecycle

// `broker policy` prints what a user needs in IAM for broker, built from
// the seeds' two policies ("CreateOwnAccessKeys", "ManageOwnAccessKeys")
// and the calls each command makes.

// Policies are the documents `broker policy` prints.
type Policies struct {
	// Permissions allows every broker command: the own-key statements for
	// everyone, the account statement only for whoever manages other
	// users' keys (it can deny any user's sessions and delete any key).
	Permissions PolicyDocument `json:"permissions"`
	// RequireMFA denies a user everything not authenticated with MFA except
	// what getting an MFA session takes, so that a leaked long-term key is
	// of no use on its own.
	RequireMFA PolicyDocument `json:"require_mfa"`
}

// OwnUser is the resource of the statements on the caller's own IAM user.
const OwnUser = "arn:aws:iam::*:user/${aws:username}"

// BrokerPolicies returns the documents of `broker policy`.
func BrokerPolicies() Policies {
	return Policies{
		Permissions: PolicyDocument{Version: "2012-10-17", Statement: []Statement{
			{
				// keys, rotate, revoke, describe and `add`'s device list, on one's own user.
				Sid: "BrokerManageOwnAccessKeys", Effect: "Allow", Resource: OwnUser,
				Action: []string{
					"iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:GetUser",
					"iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:TagUser", "iam:UntagUser",
					"iam:ListUserTags", "iam:ListMFADevices",
				},
			},
			{
				// audit and keys find (which account a key ID belongs to), and
				// login for an IAM user (a federation token named broker-PROFILE).
				Sid: "BrokerSTS", Effect: "Allow", Resource: "*",
				Action: []string{"sts:GetAccessKeyInfo", "sts:GetFederationToken"},
			},
			{
				// keys --all/--user, keys find's owner, changes to other users'
				// keys, revoke --key and revoke --sessions: administrators only.
				Sid: "BrokerManageAccountAccessKeys", Effect: "Allow", Resource: "*",
				Action: []string{
					"iam:ListUsers", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey",
					"iam:DeleteAccessKey", "iam:ListUserTags", "iam:TagUser", "iam:UntagUser",
					"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:PutUserPolicy",
				},
			},
		}},
		RequireMFA: PolicyDocument{Version: "2012-10-17", Statement: []Statement{
			{
				Sid: "BrokerDenyAllWithoutMFA", Effect: "Deny", Resource: "*",
				// GetSessionToken is how the MFA session is made; ListMFADevices
				// lets `broker add` offer the devices; GetAccessKeyInfo names only
				// an account; GetAccessKeyLastUsed lets rotate and keys read where
				// the key was last used before they use it (on one's own keys
				// only: the next statement). GetCallerIdentity needs no
				// permission and cannot be denied.
				NotAction: []string{"sts:GetSessionToken", "iam:ListMFADevices", "sts:GetAccessKeyInfo", "iam:GetAccessKeyLastUsed"},
				Condition: noMFA,
			},
			{
				// Without MFA, the last use of one's own keys only: which user
				// owns another key ID is for MFA sessions.
				Sid: "BrokerDenyOthersKeyUseWithoutMFA", Effect: "Deny", Action: []string{"iam:GetAccessKeyLastUsed"},
				NotResource: OwnUser, Condition: noMFA,
			},
		}},
	}
}

// noMFA is the condition of RequireMFA's statements: a request not
// authenticated with MFA (long-term keys carry no MFA context at all).
var noMFA = map[string]map[string]any{"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}

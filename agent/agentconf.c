// SPDX-License-Identifier: GPL-2.0-only
/* agent.conf (libconfig): every key optional; unknown keys are errors. */
#include "agentconf.h"

#include <errno.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "safefile.h"
#include "sshsig.h"
#include "text.h"

static const char *const known[] = { "policy_file", "pin_dir", "backend", "hooks",
				     "interfaces", "drop_log", "syslog", "control_socket",
				     "control_group", "admin_group", "metrics_file", "nft_table", "nft_log_group",
				     "nft_log_rate", "revocation", "stale_after", "stale_posture",
				     "canary", "scope", "allowed_signers", "signatures_required",
				     "state_dir", "event_rate", "drop_log_max_mb", "drop_log_keep",
				     "drop_log_min_free_mb", "tc_attach",
				     NULL };

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int defaults(struct df_agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->hook_cgroup_skb = c->hook_tc = c->hook_sock_addr = true;
	c->syslog = true;
	c->canary = true;
	c->event_rate = DF_EVENT_RATE;
	c->drop_log_max_mb = 256;
	c->drop_log_keep = 4;
	c->drop_log_min_free_mb = 100;
	c->nft_log_group = DF_NFT_LOG_GROUP;
	c->nft_log_rate = DF_NFT_LOG_RATE;
	if (set_str(&c->nft_table, DF_NFT_TABLE) || set_str(&c->policy_file, DF_POLICY_FILE) ||
	    set_str(&c->pin_dir, DF_PIN_DIR) || set_str(&c->backend, "bpf") ||
	    set_str(&c->drop_log, DF_DROP_LOG) ||
	    set_str(&c->control_socket, DF_CONTROL_SOCKET) ||
	    set_str(&c->control_group, "") || set_str(&c->admin_group, "") ||
	    set_str(&c->metrics_file, "") || set_str(&c->revocation, "auto") ||
	    set_str(&c->stale_posture, "keep") || set_str(&c->tc_attach, "auto") ||
	    set_str(&c->scope, "") ||
	    set_str(&c->allowed_signers, "") || set_str(&c->state_dir, DF_STATE_DIR))
		return -ENOMEM;
	return 0;
}

#define ERR(d, file, s, ...) \
	df_diag_add(d, DF_SEV_ERROR, file, (int)config_setting_source_line(s), NULL, __VA_ARGS__)

/* "; did you mean \"W\"?" when v is a typo of one of words, else ""
 * (quoted as the message quotes v: q). */
static const char *suggest_q(const char *v, const char *const *words, size_t n, char q,
			     char *buf, size_t len)
{
	const char *w = df_did_you_mean(v, words, n);

	if (!w)
		return "";
	snprintf(buf, len, "; did you mean %c%s%c?", q, w, q);
	return buf;
}

static const char *suggest(const char *v, const char *const *words, size_t n, char *buf,
			   size_t len)
{
	return suggest_q(v, words, n, '"', buf, len);
}

static const char *string_of(config_setting_t *s, const char *file, struct df_diags *d)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		ERR(d, file, s, "'%s' must be a string", config_setting_name(s));
		return NULL;
	}
	return config_setting_get_string(s);
}

/* Every top-level key must be a known one. */
static void check_known(config_setting_t *root, const char *file, struct df_diags *d)
{
	char list[512] = "";

	for (const char *const *k = known; *k; k++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 k == known ? "" : ", ", *k);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned int)i);
		const char *name = config_setting_name(s);
		bool ok = false;
		size_t n = 0;
		char hint[96];

		for (const char *const *k = known; *k; k++, n++)
			ok |= !strcmp(*k, name);
		if (!ok)
			ERR(d, file, s, "unknown key '%s' (known: %s)%s", name, list,
			    suggest_q(name, known, n, '\'', hint, sizeof(hint)));
	}
}

/* The string keys, then the checks on their values. */
static int load_strings(config_setting_t *root, const char *file, struct df_agent_conf *c,
			struct df_diags *d)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{ "policy_file", offsetof(struct df_agent_conf, policy_file) },
		{ "pin_dir", offsetof(struct df_agent_conf, pin_dir) },
		{ "backend", offsetof(struct df_agent_conf, backend) },
		{ "drop_log", offsetof(struct df_agent_conf, drop_log) },
		{ "control_socket", offsetof(struct df_agent_conf, control_socket) },
		{ "control_group", offsetof(struct df_agent_conf, control_group) },
		{ "admin_group", offsetof(struct df_agent_conf, admin_group) },
		{ "metrics_file", offsetof(struct df_agent_conf, metrics_file) },
		{ "nft_table", offsetof(struct df_agent_conf, nft_table) },
		{ "revocation", offsetof(struct df_agent_conf, revocation) },
		{ "stale_posture", offsetof(struct df_agent_conf, stale_posture) },
		{ "tc_attach", offsetof(struct df_agent_conf, tc_attach) },
		{ "scope", offsetof(struct df_agent_conf, scope) },
		{ "allowed_signers", offsetof(struct df_agent_conf, allowed_signers) },
		{ "state_dir", offsetof(struct df_agent_conf, state_dir) },
	};
	config_setting_t *s;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const char *v;

		s = config_setting_get_member(root, strs[i].key);
		if (!s || !(v = string_of(s, file, d)))
			continue;
		if (set_str((char **)((char *)c + strs[i].off), v))
			return -ENOMEM;
	}
	static const char *const backends[] = { "bpf", "nftables", "both" },
				  *const revocations[] = { "auto", "sock_diag" },
				  *const postures[] = { "keep", "drop-protected" },
				  *const tc_modes[] = { "auto", "clsact" };
	char hint[96];

	s = config_setting_get_member(root, "backend");
	if (s && strcmp(c->backend, "bpf") && strcmp(c->backend, "nftables") &&
	    strcmp(c->backend, "both"))
		ERR(d, file, s, "backend \"%s\" must be \"bpf\", \"nftables\" or \"both\"%s",
		    c->backend, suggest(c->backend, backends, 3, hint, sizeof(hint)));
	s = config_setting_get_member(root, "revocation");
	if (s && strcmp(c->revocation, "auto") && strcmp(c->revocation, "sock_diag"))
		ERR(d, file, s, "revocation \"%s\" must be \"auto\" or \"sock_diag\"%s",
		    c->revocation, suggest(c->revocation, revocations, 2, hint, sizeof(hint)));
	s = config_setting_get_member(root, "stale_posture");
	if (s && strcmp(c->stale_posture, "keep") && strcmp(c->stale_posture, "drop-protected"))
		ERR(d, file, s, "stale_posture \"%s\" must be \"keep\" or \"drop-protected\"%s",
		    c->stale_posture, suggest(c->stale_posture, postures, 2, hint, sizeof(hint)));
	else if (s && !strcmp(c->stale_posture, "drop-protected") && !strcmp(c->backend, "nftables"))
		ERR(d, file, s, "stale_posture \"drop-protected\" needs the bpf backend (the "
				"nftables backend has no heartbeat in the kernel)");
	s = config_setting_get_member(root, "tc_attach");
	if (s && strcmp(c->tc_attach, "auto") && strcmp(c->tc_attach, "clsact"))
		ERR(d, file, s, "tc_attach \"%s\" must be \"auto\" or \"clsact\"%s", c->tc_attach,
		    suggest(c->tc_attach, tc_modes, 2, hint, sizeof(hint)));
	s = config_setting_get_member(root, "scope");
	if (s && strspn(c->scope, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:") !=
			 strlen(c->scope))
		ERR(d, file, s, "scope \"%s\": letters, digits, '.', '_', '-' and ':' only", c->scope);
	s = config_setting_get_member(root, "state_dir");
	if (s && c->state_dir[0] != '/')
		ERR(d, file, s, "state_dir \"%s\" must be an absolute path", c->state_dir);
	s = config_setting_get_member(root, "allowed_signers");
	if (s && c->allowed_signers[0] && c->allowed_signers[0] != '/')
		ERR(d, file, s, "allowed_signers \"%s\" must be an absolute path", c->allowed_signers);
	s = config_setting_get_member(root, "nft_table");
	if (s && (!c->nft_table[0] || strlen(c->nft_table) > 200 ||
		  strspn(c->nft_table, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
			  strlen(c->nft_table)))
		ERR(d, file, s, "nft_table \"%s\": letters, digits, '_' and '-' only", c->nft_table);
	s = config_setting_get_member(root, "pin_dir");
	if (s && c->pin_dir[0] != '/')
		ERR(d, file, s, "pin_dir \"%s\" must be an absolute path on a bpffs", c->pin_dir);
	return 0;
}

static void load_scalars(config_setting_t *root, const char *file, struct df_agent_conf *c,
			 struct df_diags *d)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned int lo, hi;
	} ints[] = {
		{ "nft_log_group", offsetof(struct df_agent_conf, nft_log_group), 1, 65535 },
		{ "nft_log_rate", offsetof(struct df_agent_conf, nft_log_rate), 1, 1000000 },
		{ "stale_after", offsetof(struct df_agent_conf, stale_after), 0, 604800 },
		{ "signatures_required", offsetof(struct df_agent_conf, signatures_required), 0,
		  DF_SIG_MAX_BLOCKS },
		{ "event_rate", offsetof(struct df_agent_conf, event_rate), 0, 1000000 },
		{ "drop_log_max_mb", offsetof(struct df_agent_conf, drop_log_max_mb), 0, 1048576 },
		{ "drop_log_keep", offsetof(struct df_agent_conf, drop_log_keep), 0, 100 },
		{ "drop_log_min_free_mb", offsetof(struct df_agent_conf, drop_log_min_free_mb), 0,
		  1048576 },
	};
	config_setting_t *s;

	/* stale_after: 0 (off) or at least 3 s (a heartbeat every third) */
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		s = config_setting_get_member(root, ints[i].key);
		if (!s)
			continue;
		if (config_setting_type(s) != CONFIG_TYPE_INT ||
		    config_setting_get_int(s) < (int)ints[i].lo ||
		    config_setting_get_int(s) > (int)ints[i].hi) {
			ERR(d, file, s, "'%s' must be an integer from %u to %u", ints[i].key,
			    ints[i].lo, ints[i].hi);
			continue;
		}
		*(unsigned int *)((char *)c + ints[i].off) = (unsigned int)config_setting_get_int(s);
	}
	s = config_setting_get_member(root, "stale_after");
	if (s && c->stale_after > 0 && c->stale_after < 3)
		ERR(d, file, s, "'stale_after' is 0 (off) or at least 3 seconds");
	s = config_setting_get_member(root, "signatures_required");
	if (s && c->signatures_required && !c->allowed_signers[0])
		ERR(d, file, s, "signatures_required = %u needs allowed_signers (an OpenSSH "
				"allowed_signers file)", c->signatures_required);
	static const struct {
		const char *key;
		size_t off;
	} bools[] = {
		{ "syslog", offsetof(struct df_agent_conf, syslog) },
		{ "canary", offsetof(struct df_agent_conf, canary) },
	};

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		s = config_setting_get_member(root, bools[i].key);
		if (!s)
			continue;
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			ERR(d, file, s, "'%s' must be true or false", bools[i].key);
		else
			*(bool *)((char *)c + bools[i].off) = config_setting_get_bool(s);
	}
}

static void load_hooks(config_setting_t *root, const char *file, struct df_agent_conf *c,
		       struct df_diags *d)
{
	config_setting_t *s = config_setting_get_member(root, "hooks");

	if (!s)
		return;
	c->hook_cgroup_skb = c->hook_tc = c->hook_sock_addr = false;
	if (!config_setting_is_aggregate(s) || config_setting_is_group(s))
		ERR(d, file, s, "'hooks' must be a list like [ \"cgroup_skb\", \"tc\", \"sock_addr\" ]");
	for (int i = 0; config_setting_is_aggregate(s) && i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		const char *h = config_setting_type(e) == CONFIG_TYPE_STRING ?
					config_setting_get_string(e) : "";

		if (!strcmp(h, "cgroup_skb"))
			c->hook_cgroup_skb = true;
		else if (!strcmp(h, "tc"))
			c->hook_tc = true;
		else if (!strcmp(h, "sock_addr"))
			c->hook_sock_addr = true;
		else {
			static const char *const hooks[] = { "cgroup_skb", "tc", "sock_addr" };
			char hint[96];

			ERR(d, file, e, "unknown hook \"%s\" (known: cgroup_skb, tc, sock_addr)%s", h,
			    suggest(h, hooks, 3, hint, sizeof(hint)));
		}
	}
}

static int load_interfaces(config_setting_t *root, const char *file, struct df_agent_conf *c,
			   struct df_diags *d)
{
	config_setting_t *s = config_setting_get_member(root, "interfaces");

	if (!s)
		return 0;
	if (!config_setting_is_aggregate(s) || config_setting_is_group(s))
		ERR(d, file, s, "'interfaces' must be a list of interface names");
	for (int i = 0; config_setting_is_aggregate(s) && i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    strlen(config_setting_get_string(e)) >= 16) {
			ERR(d, file, e, "interface names are strings of at most 15 characters");
			continue;
		}
		if (c->n_interfaces == DF_MAX_IFACES) {
			ERR(d, file, e, "at most %d interfaces", DF_MAX_IFACES);
			break;
		}
		c->interfaces[c->n_interfaces] = strdup(config_setting_get_string(e));
		if (!c->interfaces[c->n_interfaces++])
			return -ENOMEM;
	}
	return 0;
}

int df_agent_conf_load(const char *file, struct df_agent_conf *c, struct df_diags *d)
{
	size_t errors = d->errors;
	config_setting_t *root;
	char *text = NULL;
	config_t cfg;
	int err;

	err = defaults(c);
	if (err)
		return err;
	if (file) { /* root's, read safely (safefile.h) */
		char why[DF_WHY_LEN];
		size_t n;

		err = df_file_read(file, DF_AGENT_CONF_MAX, &text, &n, why, sizeof(why));
		if (err) {
			df_diag_add(d, DF_SEV_ERROR, file, 0, NULL, "cannot read: %s", why);
			return -EINVAL;
		}
	}
	if (text) { /* integers as written (pconf.h) */
		char *wide = df_conf_widen_ints(text, strlen(text), file, d, &err);

		free(text);
		if (!wide)
			return -EINVAL;
		text = wide;
	}
	config_init(&cfg);
	if (config_read_string(&cfg, text ? text : "") != CONFIG_TRUE) {
		df_conf_syntax_error(text ? text : "", file, config_error_line(&cfg),
				     config_error_text(&cfg), d);
		config_destroy(&cfg);
		free(text);
		return -EINVAL;
	}
	free(text);
	if (!file)
		file = "(defaults)";
	root = config_root_setting(&cfg);
	check_known(root, file, d);
	err = load_strings(root, file, c, d);
	if (!err) {
		load_scalars(root, file, c, d);
		load_hooks(root, file, c, d);
		err = load_interfaces(root, file, c, d);
	}
	if (!err && d->errors != errors)
		err = -EINVAL;
	config_destroy(&cfg);
	return err;
}

void df_agent_conf_free(struct df_agent_conf *c)
{
	free(c->policy_file);
	free(c->pin_dir);
	free(c->backend);
	free(c->nft_table);
	free(c->revocation);
	free(c->stale_posture);
	free(c->tc_attach);
	free(c->scope);
	free(c->allowed_signers);
	free(c->state_dir);
	free(c->drop_log);
	free(c->control_socket);
	free(c->control_group);
	free(c->admin_group);
	free(c->metrics_file);
	for (size_t i = 0; i < c->n_interfaces; i++)
		free(c->interfaces[i]);
	memset(c, 0, sizeof(*c));
}

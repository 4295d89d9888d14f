/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt's certificate choice (see choose.h). The window lists what imzad sent, in imzad's order
 * (qualified first), and gives back only an index into it: imzad decides which key signs, the window
 * only shows and asks. */
#include <errno.h>
#include <libintl.h>
#include <stdio.h>
#include <string.h>

#include <gpg-error.h>
#include <gtk/gtk.h>

#include "daemon/web/certinfo.h"
#include "daemon/ui/secmem.h"
#include "prompt/choices.h"
#include "prompt/choose.h"

#define _(s) gettext(s)

static struct {
	uint8_t *buf; /* the DERs, one after the other */
	size_t lens[PROMPT_CHOICES_MAX];
	const uint8_t *ders[PROMPT_CHOICES_MAX];
	size_t n;
} certs;

static gpg_error_t err(gpg_err_code_t code)
{
	return gpg_err_make(GPG_ERR_SOURCE_PINENTRY, code);
}

void choose_free(void)
{
	g_free(certs.buf);
	memset(&certs, 0, sizeof(certs));
}

gpg_error_t choose_setcerts(assuan_context_t c, char *line)
{
	size_t n, total, got = 0;
	size_t lens[PROMPT_CHOICES_MAX];
	const uint8_t *ders[PROMPT_CHOICES_MAX];
	unsigned char *buf = NULL;
	uint8_t *copy;
	gpg_error_t e;

	/* The count and lengths are checked before anything is inquired. */
	if (prompt_certs_header(line, &n, lens, &total) < 0)
		return err(GPG_ERR_INV_VALUE);
	e = assuan_inquire(c, "CERTIFICATES", &buf, &got, total);
	if (e)
		return e;
	copy = g_malloc(total ? total : 1);
	memcpy(copy, buf, got <= total ? got : total);
	secmem_free(buf);
	if (got != total || prompt_certs_split(copy, total, lens, n, ders) < 0) {
		g_free(copy);
		return err(GPG_ERR_INV_LENGTH);
	}
	choose_free();
	certs.buf = copy;
	certs.n = n;
	memcpy(certs.lens, lens, sizeof(lens));
	memcpy(certs.ders, ders, sizeof(ders));
	return 0;
}

/* ---- the window ---- */

struct choice_win {
	GtkWidget *window;
	bool done;
	int chosen; /* -1: cancelled */
	bool timed_out;
	guint timer;
};

struct row_data {
	struct choice_win *w;
	int index;
};

static void done(struct choice_win *w, int chosen, bool timed_out)
{
	if (w->done)
		return;
	w->done = true;
	w->chosen = chosen;
	w->timed_out = timed_out;
}

static void on_choose(GtkButton *b, gpointer data)
{
	struct row_data *rd = data;

	done(rd->w, rd->index, false);
}

static void on_view(GtkButton *b, gpointer data)
{
	struct row_data *rd = data;

	window_cert_details(rd->w->window, certs.ders[rd->index], certs.lens[rd->index]);
}

static void on_cancel(GtkButton *b, gpointer data)
{
	done(data, -1, false);
}

static gboolean on_escape(GtkWidget *widget, GVariant *args, gpointer data)
{
	done(data, -1, false);
	return TRUE;
}

static gboolean on_close_request(GtkWindow *window, gpointer data)
{
	done(data, -1, false);
	return TRUE;
}

static gboolean on_timeout(gpointer data)
{
	struct choice_win *w = data;

	w->timer = 0;
	done(w, -1, true);
	return G_SOURCE_REMOVE;
}

static GtkWidget *label(const char *text, const char *a11y, const char *css_class)
{
	GtkWidget *l = gtk_label_new(text);

	gtk_label_set_xalign(GTK_LABEL(l), 0);
	gtk_label_set_wrap(GTK_LABEL(l), TRUE);
	gtk_label_set_wrap_mode(GTK_LABEL(l), PANGO_WRAP_WORD_CHAR);
	if (css_class)
		gtk_widget_add_css_class(l, css_class);
	gtk_accessible_update_property(GTK_ACCESSIBLE(l), GTK_ACCESSIBLE_PROPERTY_LABEL, a11y ? a11y : text,
	                               -1);
	return l;
}

/* A button whose accessible name (taken, g_free'd here) says what it does to which certificate
 * ("Seç: AHMET YILMAZ"). */
static GtkWidget *row_button(const char *mnemonic, char *name)
{
	GtkWidget *b = gtk_button_new_with_mnemonic(mnemonic);

	gtk_accessible_update_property(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
	gtk_accessible_reset_relation(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
	gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
	g_free(name);
	return b;
}

static void date_of(time_t t, char out[11])
{
	char iso[21];

	certinfo_time(t, iso);
	memcpy(out, iso, 10);
	out[10] = '\0';
}

/* One certificate: who, the Nitelikli badge, issuer and validity, then Görüntüle and Seç. */
static GtkWidget *cert_row(struct row_data *rd, GtkWidget **ret_choose)
{
	struct certinfo ci;
	/* A list item of its own role, never a focus stop: Tab goes from button to button. */
	GtkWidget *row = g_object_new(GTK_TYPE_BOX, "orientation", GTK_ORIENTATION_HORIZONTAL, "spacing", 12,
	                              "accessible-role", GTK_ACCESSIBLE_ROLE_LIST_ITEM, NULL);
	GtkWidget *text, *top, *view, *choose;
	char from[11], to[11], *s, *a11y;
	const char *who;

	certinfo_parse(certs.ders[rd->index], certs.lens[rd->index], &ci); /* checked by SETCERTS */
	who = ci.common_name[0] ? ci.common_name : ci.subject;
	text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
	top = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	a11y = g_strdup_printf(_("Signer: %s"), who);
	gtk_box_append(GTK_BOX(top), label(who, a11y, "imza-heading"));
	g_free(a11y);
	if (ci.qualified) {
		GtkWidget *badge = label(_("Qualified"), _("Qualified certificate"), "imza-badge");

		gtk_widget_set_valign(badge, GTK_ALIGN_CENTER);
		gtk_box_append(GTK_BOX(top), badge);
	}
	gtk_box_append(GTK_BOX(text), top);
	s = g_strdup_printf(_("Issuer: %s"), ci.issuer);
	gtk_box_append(GTK_BOX(text), label(s, NULL, NULL));
	g_free(s);
	date_of(ci.not_before, from);
	date_of(ci.not_after, to);
	s = g_strdup_printf(_("Valid from %s to %s"), from, to);
	gtk_box_append(GTK_BOX(text), label(s, NULL, NULL));
	g_free(s);
	gtk_widget_set_hexpand(text, TRUE);
	gtk_box_append(GTK_BOX(row), text);
	view = row_button(_("_View"), g_strdup_printf(_("View: %s"), who));
	g_signal_connect(view, "clicked", G_CALLBACK(on_view), rd);
	gtk_box_append(GTK_BOX(row), view);
	choose = row_button(_("C_hoose"), ci.qualified ? g_strdup_printf(_("Choose: %s (qualified)"), who)
	                                               : g_strdup_printf(_("Choose: %s"), who));
	g_signal_connect(choose, "clicked", G_CALLBACK(on_choose), rd);
	gtk_box_append(GTK_BOX(row), choose);
	gtk_widget_set_margin_top(row, 6);
	gtk_widget_set_margin_bottom(row, 6);
	*ret_choose = choose;
	return row;
}

static int choose_window(const struct prompt *p, bool *ret_timed_out)
{
	struct choice_win w = {.chosen = -1};
	struct row_data rows[PROMPT_CHOICES_MAX];
	/* A plain box, not a GtkListBox, whose rows would each be a focus stop between the buttons. */
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12), *cancel, *heading, *frame;
	GtkWidget *list = g_object_new(GTK_TYPE_BOX, "orientation", GTK_ORIENTATION_VERTICAL, "spacing", 0,
	                               "accessible-role", GTK_ACCESSIBLE_ROLE_LIST, NULL);
	GtkWidget *first = NULL, *bar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	GtkEventController *sc = gtk_shortcut_controller_new();

	w.window = gtk_window_new();
	gtk_window_set_title(GTK_WINDOW(w.window), p->title ? p->title : "imza");
	gtk_window_set_modal(GTK_WINDOW(w.window), TRUE);
	gtk_window_set_default_size(GTK_WINDOW(w.window), 640, -1);
	gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(sc),
	                                     gtk_shortcut_new(gtk_keyval_trigger_new(GDK_KEY_Escape, 0),
	                                                      gtk_callback_action_new(on_escape, &w, NULL)));
	gtk_widget_add_controller(w.window, sc);
	g_signal_connect(w.window, "close-request", G_CALLBACK(on_close_request), &w);
	gtk_widget_set_margin_start(box, 16);
	gtk_widget_set_margin_end(box, 16);
	gtk_widget_set_margin_top(box, 16);
	gtk_widget_set_margin_bottom(box, 16);
	if (p->origin)
		gtk_box_append(GTK_BOX(box), window_site_section(p));
	heading = label(_("Choose the certificate to sign with"), NULL, "imza-heading");
	gtk_box_append(GTK_BOX(box), heading);
	gtk_accessible_update_property(GTK_ACCESSIBLE(list), GTK_ACCESSIBLE_PROPERTY_LABEL,
	                               _("Signing certificates on your cards"), -1);
	for (size_t i = 0; i < certs.n; i++) {
		GtkWidget *choose;

		rows[i] = (struct row_data){&w, (int)i};
		GtkWidget *row = cert_row(&rows[i], &choose);

		gtk_widget_set_margin_start(row, 8);
		gtk_widget_set_margin_end(row, 8);
		if (i > 0)
			gtk_box_append(GTK_BOX(list), gtk_separator_new(GTK_ORIENTATION_HORIZONTAL));
		gtk_box_append(GTK_BOX(list), row);
		if (first == NULL)
			first = choose;
	}
	frame = gtk_frame_new(NULL);
	gtk_frame_set_child(GTK_FRAME(frame), list);
	gtk_box_append(GTK_BOX(box), frame);
	cancel = row_button(_("_Cancel"), g_strdup(_("Cancel")));
	g_signal_connect(cancel, "clicked", G_CALLBACK(on_cancel), &w);
	gtk_widget_set_halign(bar, GTK_ALIGN_END);
	gtk_box_append(GTK_BOX(bar), cancel);
	gtk_box_append(GTK_BOX(box), bar);
	gtk_window_set_child(GTK_WINDOW(w.window), box);
	/* İptal is the default widget; Enter acts on the focused button, the first row's Seç at first, and Tab
	 * goes from button to button. Choosing asks nothing yet: the signing window follows. */
	gtk_window_set_default_widget(GTK_WINDOW(w.window), cancel);
	if (p->timeout_s > 0)
		w.timer = g_timeout_add_seconds(p->timeout_s, on_timeout, &w);
	/* The first (qualified) row's Seç has the focus when the window comes up. */
	if (first)
		gtk_window_set_focus(GTK_WINDOW(w.window), first);
	gtk_window_present(GTK_WINDOW(w.window));
	while (!w.done)
		g_main_context_iteration(NULL, TRUE);
	if (w.timer)
		g_source_remove(w.timer);
	gtk_window_destroy(GTK_WINDOW(w.window));
	while (g_main_context_iteration(NULL, FALSE))
		;
	*ret_timed_out = w.timed_out;
	return w.chosen;
}

gpg_error_t choose_command(const struct prompt *p, assuan_context_t c, char *line)
{
	char digits[16];
	bool timed_out = false;
	int i;
	gpg_error_t e;

	if (certs.n == 0)
		return err(GPG_ERR_MISSING_VALUE);
	i = choose_window(p, &timed_out);
	if (i < 0)
		return err(timed_out ? GPG_ERR_TIMEOUT : GPG_ERR_CANCELED);
	snprintf(digits, sizeof(digits), "%d", i);
	e = assuan_send_data(c, digits, strlen(digits));
	return e;
}

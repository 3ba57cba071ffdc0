"""The help texts a reviewer gets back (AIDE, or a reply that is not a command): the commands
and directives of CONTRACTS.md, in French."""

from __future__ import annotations

HELP_TEXT_SUBSCRIPTION = """\
Pour décider de cette demande d'abonnement, répondez à ce message en écrivant l'une des \
commandes suivantes, seule sur la première ligne de votre réponse (majuscules et accents \
facultatifs, « : » facultatif) :

APPROUVER
    approuve toutes les personnes de la demande (synonymes : VALIDER, VALIDÉ, APPROUVÉ).
APPROUVER 1,3
    approuve seulement les personnes n° 1 et 3 de la liste ; les autres sont refusées et le
    demandeur en est informé (« 1, 3 », « 1 et 3 » et « 1-3 » sont aussi compris).
REFUSER <motif>
    refuse la demande ; le motif est transmis au demandeur.
    Exemple : REFUSER La délibération de la collectivité n'est pas jointe.
COMPLÉTER <ce qui manque>
    demande au demandeur de compléter sa demande ; le texte court jusqu'à la première ligne
    vide. Exemple : COMPLÉTER Merci d'indiquer le numéro SIREN de la commune.
AIDE
    renvoie ce message.

Les formulations courantes sont aussi comprises lorsqu'elles sont seules sur la ligne (à part \
des remerciements ou des numéros de personnes) : « Je valide », « Ok pour moi », « Bon pour \
accord », « J'approuve uniquement le n° 1 », « Refusé, <motif> », « Il manque <ce qui \
manque> ». Une négation, « mais » ou « sauf » ne vaut jamais décision.

Le texte cité sous votre réponse et votre signature ne sont pas lus."""

HELP_TEXT_QUESTION = """\
Pour répondre à cette question, répondez simplement à ce message : le texte que vous écrivez \
(sans le message cité ni votre signature) est la réponse envoyée au demandeur, puis publiée \
sans données personnelles dans l'espace concerné du portail.

Vous pouvez ajouter des consignes, chacune seule sur sa ligne :

En tête de la réponse, avant le texte :
ESPACE : ANTAI
    publie dans l'espace indiqué (ACCUEIL, DESTA ou ANTAI).
QUESTION : Comment contester un forfait post-stationnement ?
    remplace l'intitulé de la question publiée (les deux-points sont obligatoires).
TRANSFÉRER : desta
    transmet la question au groupe de relecteurs indiqué, sans répondre.

N'importe où dans la réponse :
NE PAS PUBLIER
    la réponse est envoyée au demandeur mais n'est pas publiée.
HORS PÉRIMÈTRE
    la question ne relève pas du portail : le demandeur reçoit les coordonnées du CEREMA.

Votre réponse ne part pas tout de suite : vous recevez d'abord un aperçu (le message qui \
sera envoyé, le texte qui sera publié, l'heure d'envoi). En réponse à cet aperçu :
ANNULER
    rien n'est envoyé ; la question attend de nouveau une réponse.
PUBLIER (ou « Ok », « Je valide »)
    envoie et publie tout de suite.
un nouveau texte
    remplace la réponse en attente.
CLASSER : <message facultatif au demandeur>
    clôt la question sans réponse ni publication (aussi en réponse à ce message).

Une fois la réponse envoyée, en réponse à l'aperçu ou à la confirmation :
CORRIGER : <nouveau texte>
    publie une version corrigée et l'envoie au demandeur.
RETIRER
    retire la publication (ajoutez un texte pour prévenir le demandeur).

Majuscules et accents sont facultatifs. Exemple :

ESPACE : ANTAI

Bonjour,
La contestation d'un FPS se fait par un recours administratif préalable obligatoire."""

"""The web portal: server-rendered pages for researchers, PIs, reviewers, programme managers
and operators, served by the API's app.

::

    app            mount_portal(app): the routers, static files and plotly.js
    routes_auth    sign in with an API token, sign out
    routes_jobs    jobs (live), one job with its log, cancel, resubmit, the submit form
    routes_projects  projects: awards and their burn-down, team and spend, proposals
    routes_programmes  reviews on the rubric; calls: reviews, ranking, award plan, stages
    routes_dashboard   spend and needs, utilisation, waits, fairness, forecasts, CSV
    review_form    the review form's checks
    dashboard_queries  waits of started jobs, awards per community, Jain's index
    pages          one request's Page: language, signed-in actor, rendering, headers
    errors         PortalRoute: errors become pages with the right status, never a trace
    sessions       sessions in the database (only digests), tied to the API token
    csrf           the token every form carries
    i18n           Korean and English: negotiation and the catalogue
    formatting     numbers, won (with 억/만 readings), dates in Asia/Seoul or UTC
    navigation     which pages each role gets a link to
    forms          the submit form's checks
    charts         Plotly figures as data
    burn_down      an award's daily burn-down, summed by the database

See docs/portal.md for the design.
"""

from nuri.web.app import mount_portal

__all__ = ["mount_portal"]
